#ifndef CGSL_RUNTIME_H
#define CGSL_RUNTIME_H
/* Nonzero when a GSL error would still abort the process (the load-time switch did not run). */
int cgsl_runtime_errors_abort(void);
#endif
