//! CLIP's two towers, with the module and parameter names of transformers' `CLIPModel`
//! (`vision_model.pre_layrnorm` is spelled as in the checkpoints). Every tensor operation is
//! libtorch's fallible one (`f_*`): an allocation that fails (a batch too large for the device)
//! or an input of the wrong shape is an error, never a libtorch abort.

use tch::{Kind, TchError, Tensor};

use crate::config::{Activation, ClipConfig};
use crate::weights::Weights;

struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    fn new(w: &mut Weights, prefix: &str, inp: i64, out: i64, bias: bool) -> Self {
        let weight = w.take(&format!("{prefix}.weight"), &[out, inp]);
        let bias = bias.then(|| w.take(&format!("{prefix}.bias"), &[out]));
        Linear { weight, bias }
    }
    fn forward(&self, x: &Tensor) -> Result<Tensor, TchError> {
        x.f_linear(&self.weight, self.bias.as_ref())
    }
}

struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
    dim: i64,
}

impl LayerNorm {
    fn new(w: &mut Weights, prefix: &str, dim: i64, eps: f64) -> Self {
        LayerNorm {
            weight: w.take(&format!("{prefix}.weight"), &[dim]),
            bias: w.take(&format!("{prefix}.bias"), &[dim]),
            eps,
            dim,
        }
    }
    fn forward(&self, x: &Tensor) -> Result<Tensor, TchError> {
        x.f_layer_norm([self.dim], Some(&self.weight), Some(&self.bias), self.eps, false)
    }
}

/// Sizes shared by both towers' encoders.
struct Dims {
    hidden: i64,
    inter: i64,
    heads: i64,
    layers: i64,
    eps: f64,
    act: Activation,
}

struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    out_proj: Linear,
    heads: i64,
}

impl Attention {
    fn forward(&self, x: &Tensor, mask: Option<&Tensor>) -> Result<Tensor, TchError> {
        let (b, l, d) = x.size3()?;
        let split = |t: Tensor| t.f_view([b, l, self.heads, d / self.heads])?.f_transpose(1, 2);
        let q = split(self.q_proj.forward(x)?)?;
        let k = split(self.k_proj.forward(x)?)?;
        let v = split(self.v_proj.forward(x)?)?;
        let o = Tensor::f_scaled_dot_product_attention(&q, &k, &v, mask, 0.0, false, None, false)?;
        self.out_proj.forward(&o.f_transpose(1, 2)?.f_reshape([b, l, d])?)
    }
}

struct EncoderLayer {
    self_attn: Attention,
    layer_norm1: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    layer_norm2: LayerNorm,
    act: Activation,
}

impl EncoderLayer {
    fn new(w: &mut Weights, p: &str, d: &Dims) -> Self {
        let lin = |w: &mut Weights, n: &str, i, o| Linear::new(w, &format!("{p}.{n}"), i, o, true);
        EncoderLayer {
            self_attn: Attention {
                q_proj: lin(w, "self_attn.q_proj", d.hidden, d.hidden),
                k_proj: lin(w, "self_attn.k_proj", d.hidden, d.hidden),
                v_proj: lin(w, "self_attn.v_proj", d.hidden, d.hidden),
                out_proj: lin(w, "self_attn.out_proj", d.hidden, d.hidden),
                heads: d.heads,
            },
            layer_norm1: LayerNorm::new(w, &format!("{p}.layer_norm1"), d.hidden, d.eps),
            fc1: lin(w, "mlp.fc1", d.hidden, d.inter),
            fc2: lin(w, "mlp.fc2", d.inter, d.hidden),
            layer_norm2: LayerNorm::new(w, &format!("{p}.layer_norm2"), d.hidden, d.eps),
            act: d.act,
        }
    }

    fn forward(&self, x: &Tensor, mask: Option<&Tensor>) -> Result<Tensor, TchError> {
        let x = x.f_add(&self.self_attn.forward(&self.layer_norm1.forward(x)?, mask)?)?;
        let h = self.fc1.forward(&self.layer_norm2.forward(&x)?)?;
        let h = match self.act {
            Activation::QuickGelu => h.f_mul(&h.f_mul_scalar(1.702)?.f_sigmoid()?)?,
            Activation::Gelu => h.f_gelu("none")?,
            Activation::GeluTanh => h.f_gelu("tanh")?,
        };
        x.f_add(&self.fc2.forward(&h)?)
    }
}

fn encoder(w: &mut Weights, prefix: &str, d: &Dims) -> Vec<EncoderLayer> {
    (0..d.layers)
        .map(|i| EncoderLayer::new(w, &format!("{prefix}.encoder.layers.{i}"), d))
        .collect()
}

fn run(layers: &[EncoderLayer], mut x: Tensor, mask: Option<&Tensor>) -> Result<Tensor, TchError> {
    for layer in layers {
        x = layer.forward(&x, mask)?;
    }
    Ok(x)
}

pub(crate) struct VisionTransformer {
    class_embedding: Tensor,
    patch_embedding: Tensor,
    position_embedding: Tensor,
    pre_layrnorm: LayerNorm,
    layers: Vec<EncoderLayer>,
    post_layernorm: LayerNorm,
    patch: i64,
    pub(crate) channels: i64,
    pub(crate) image_size: i64,
}

impl VisionTransformer {
    fn new(w: &mut Weights, c: &ClipConfig) -> Self {
        let v = &c.vision_config;
        let d = Dims {
            hidden: v.hidden_size,
            inter: v.intermediate_size,
            heads: v.num_attention_heads,
            layers: v.num_hidden_layers,
            eps: v.layer_norm_eps,
            act: c.vision_activation(),
        };
        let positions = (v.image_size / v.patch_size).pow(2) + 1;
        let p = "vision_model";
        VisionTransformer {
            class_embedding: w.take(&format!("{p}.embeddings.class_embedding"), &[d.hidden]),
            patch_embedding: w.take(
                &format!("{p}.embeddings.patch_embedding.weight"),
                &[d.hidden, v.num_channels, v.patch_size, v.patch_size],
            ),
            position_embedding: w
                .take(&format!("{p}.embeddings.position_embedding.weight"), &[positions, d.hidden]),
            pre_layrnorm: LayerNorm::new(w, &format!("{p}.pre_layrnorm"), d.hidden, d.eps),
            layers: encoder(w, p, &d),
            post_layernorm: LayerNorm::new(w, &format!("{p}.post_layernorm"), d.hidden, d.eps),
            patch: v.patch_size,
            channels: v.num_channels,
            image_size: v.image_size,
        }
    }

    /// The patch embedding `(B, patches, hidden)`: the checkpoint's stride-`patch` convolution.
    /// On CUDA it is written as one matrix product over unfolded patches, so that it runs in full
    /// f32 (cuDNN convolutions may use TF32, which libtorch allows by default; its matrix
    /// products don't); on the CPU the convolution itself is exact and 3x faster.
    fn patches(&self, pixels: &Tensor) -> Result<Tensor, TchError> {
        if !pixels.device().is_cuda() {
            let x = pixels.f_conv2d(
                &self.patch_embedding,
                None::<Tensor>,
                [self.patch],
                [0],
                [1],
                1,
            )?;
            return x.f_flatten(2, 3)?.f_transpose(1, 2);
        }
        let (b, c, h, w) = pixels.size4()?;
        let (p, gh, gw) = (self.patch, h / self.patch, w / self.patch);
        let x = pixels
            .f_narrow(2, 0, gh * p)?
            .f_narrow(3, 0, gw * p)?
            .f_reshape([b, c, gh, p, gw, p])?
            .f_permute([0, 2, 4, 1, 3, 5])?
            .f_reshape([b, gh * gw, c * p * p])?;
        let hidden = self.patch_embedding.size()[0];
        x.f_matmul(&self.patch_embedding.f_view([hidden, c * p * p])?.f_tr()?)
    }

    /// The encoder's output for every token, class token first, before `post_layernorm`
    /// (transformers' `last_hidden_state`), `(B, tokens, hidden)`; and `pooler_output`, the
    /// post-layernormed class token, `(B, hidden)`.
    pub(crate) fn forward(&self, pixels: &Tensor) -> Result<(Tensor, Tensor), TchError> {
        let x = self.patches(pixels)?;
        let (b, _, _) = x.size3()?;
        let d = self.class_embedding.size()[0];
        let cls = self.class_embedding.f_view([1, 1, d])?.f_expand([b, 1, d], false)?;
        let x = Tensor::f_cat(&[cls, x], 1)?.f_add(&self.position_embedding)?;
        let grid = run(&self.layers, self.pre_layrnorm.forward(&x)?, None)?;
        let pooled = self.post_layernorm.forward(&grid.f_select(1, 0)?)?;
        Ok((grid, pooled))
    }
}

pub(crate) struct TextTransformer {
    token_embedding: Tensor,
    position_embedding: Tensor,
    layers: Vec<EncoderLayer>,
    final_layer_norm: LayerNorm,
    pub(crate) max_positions: i64,
    pub(crate) vocab: i64,
}

impl TextTransformer {
    fn new(w: &mut Weights, c: &ClipConfig) -> Self {
        let t = &c.text_config;
        let d = Dims {
            hidden: t.hidden_size,
            inter: t.intermediate_size,
            heads: t.num_attention_heads,
            layers: t.num_hidden_layers,
            eps: t.layer_norm_eps,
            act: c.text_activation(),
        };
        let p = "text_model";
        TextTransformer {
            token_embedding: w
                .take(&format!("{p}.embeddings.token_embedding.weight"), &[t.vocab_size, d.hidden]),
            position_embedding: w.take(
                &format!("{p}.embeddings.position_embedding.weight"),
                &[t.max_position_embeddings, d.hidden],
            ),
            layers: encoder(w, p, &d),
            final_layer_norm: LayerNorm::new(w, &format!("{p}.final_layer_norm"), d.hidden, d.eps),
            max_positions: t.max_position_embeddings,
            vocab: t.vocab_size,
        }
    }

    /// The encoder's output at each row's largest token id (first maximum) before
    /// `final_layer_norm` (transformers' `hidden_states[-1]` there), and after it, both
    /// `(B, hidden)`. The norm is per token, so only the pooled rows are normed.
    pub(crate) fn forward(
        &self,
        ids: &Tensor,
        mask: &Tensor,
    ) -> Result<(Tensor, Tensor), TchError> {
        let (b, l) = ids.size2()?;
        let x = Tensor::f_embedding(&self.token_embedding, ids, -1, false, false)?
            .f_add(&self.position_embedding.f_narrow(0, 0, l)?)?;
        let causal =
            Tensor::f_ones([l, l], (Kind::Bool, ids.device()))?.f_tril(0)?.f_view([1, 1, l, l])?;
        let keys = mask.f_to_kind(Kind::Bool)?.f_view([b, 1, 1, l])?;
        let attn = causal.f_logical_and(&keys)?;
        let x = run(&self.layers, x, Some(&attn))?;
        let rows = Tensor::f_arange(b, (Kind::Int64, ids.device()))?;
        let at = ids.f_argmax(-1, false)?;
        let values = x.f_index(&[Some(rows), Some(at)])?;
        let features = self.final_layer_norm.forward(&values)?;
        Ok((values, features))
    }
}

pub(crate) struct Clip {
    pub(crate) vision: VisionTransformer,
    pub(crate) text: TextTransformer,
    visual_projection: Linear,
    text_projection: Linear,
}

impl Clip {
    pub(crate) fn new(w: &mut Weights, c: &ClipConfig) -> Self {
        let p = c.projection_dim;
        Clip {
            vision: VisionTransformer::new(w, c),
            text: TextTransformer::new(w, c),
            visual_projection: Linear::new(
                w,
                "visual_projection",
                c.vision_config.hidden_size,
                p,
                false,
            ),
            text_projection: Linear::new(w, "text_projection", c.text_config.hidden_size, p, false),
        }
    }

    pub(crate) fn project_image(&self, pooled: &Tensor) -> Result<Tensor, TchError> {
        l2_normalize(&self.visual_projection.forward(pooled)?)
    }
    pub(crate) fn project_text(&self, features: &Tensor) -> Result<Tensor, TchError> {
        l2_normalize(&self.text_projection.forward(features)?)
    }
}

/// `x / x.norm(p=2, dim=-1, keepdim=True)`, as transformers writes it.
pub(crate) fn l2_normalize(x: &Tensor) -> Result<Tensor, TchError> {
    x.f_div(&x.f_norm_scalaropt_dim(2, [-1], true)?)
}
