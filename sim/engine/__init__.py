"""All compiled code: the kernels behind the submodels, inline maths and hashed random numbers."""
