// The source of hpa_pch, the target that builds the precompiled LibTorch header every other target reuses.
