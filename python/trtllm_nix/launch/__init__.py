"""Start Triton for a generated repository: one process, or one rank per GPU under mpirun."""
