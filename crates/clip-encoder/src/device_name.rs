//! A device's name as logs, errors and provenance write it. Below `error`, which names the device
//! a forward pass failed on; parsing the `--device` flag (`device`) builds on `error`.

use tch::Device;

/// `cpu`, `cuda:0`, ... for logs and provenance.
pub fn device_name(device: Device) -> String {
    match device {
        Device::Cpu => "cpu".into(),
        Device::Cuda(n) => format!("cuda:{n}"),
        other => format!("{other:?}").to_lowercase(),
    }
}
