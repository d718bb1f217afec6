"""hpa_analysis: figures and statistics from hpa run directories (docs/run-format.md).

Reads only run directories (run.h5, reinit.h5) and hpa-stats JSON files; needs h5py, numpy,
matplotlib and scipy (Debian packages python3-h5py, python3-numpy, python3-matplotlib,
python3-scipy). Entry point: python3 -m hpa_analysis report RUN [RUN ...] --out DIR
"""
# Run format versions read (docs/run-format.md): 2 and 3.
SCHEMA_VERSIONS = (2, 3)
