#pragma once
#include <cblas.h>
// OpenBLAS extensions: thread control and which kernel set was picked at load time.
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_corename(void);
char *openblas_get_config(void);
