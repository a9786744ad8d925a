#ifndef CGLPK_SHIM_H
#define CGLPK_SHIM_H
/* Debian ships no pkg-config file for GLPK, so the module map links "glpk" directly. */
#include <glpk.h>
static inline int cglpk_major_version(void) { return GLP_MAJOR_VERSION; }
static inline int cglpk_minor_version(void) { return GLP_MINOR_VERSION; }
#endif
