/* strata.h compiles alone, first, with nothing else included. */
#include "strata.h"

int main(void)
{
    strata_options o = STRATA_OPTIONS_INIT;
    strata_run_options r = STRATA_RUN_OPTIONS_INIT;
    return (o.version == STRATA_OPTIONS_VERSION &&
            r.version == STRATA_RUN_OPTIONS_VERSION)
               ? 0
               : 1;
}
