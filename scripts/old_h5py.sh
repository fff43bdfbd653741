# Sourced by scripts/setup.sh and scripts/check_requirements.sh: the oldest h5py that has a
# wheel for a Python version (with a NumPy it runs on), for the venv in which `make test` checks
# that an older h5py on an older HDF5 reads every file we write as the pinned h5py does.
#   Python 3.10, 3.11: h5py 3.8.0 (HDF5 1.12.2)
#   Python 3.12:       h5py 3.10.0 (HDF5 1.14.2)
#   Python 3.13:       h5py 3.12.1 (HDF5 1.14.2)
old_h5py_pins() {
  case "$1" in
    3.10 | 3.11) echo "h5py==3.8.0 numpy==1.26.4" ;;
    3.12) echo "h5py==3.10.0 numpy==1.26.4" ;;
    3.13) echo "h5py==3.12.1 numpy==2.1.3" ;;
    *) return 1 ;;
  esac
}
