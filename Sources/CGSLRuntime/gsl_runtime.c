#include <gsl/gsl_errno.h>
#include "gsl_runtime.h"

/* GSL's default error handler aborts the process on a domain error (a log of a negative number in
   a likelihood, a failed special function). Every caller here checks status codes and NaNs instead,
   so the handler is switched off once, when the program is loaded, for every executable and test
   that links a module wrapping GSL: no main has to remember it. */
__attribute__((constructor)) static void cgsl_runtime_quiet_errors(void) { gsl_set_error_handler_off(); }

int cgsl_runtime_errors_abort(void) {
    gsl_error_handler_t *previous = gsl_set_error_handler_off();
    gsl_set_error_handler(previous);
    return previous == NULL;
}
