// strata.h compiles alone in C++ and links with C linkage.
#include "strata.h"

int main()
{
    strata_options o = STRATA_OPTIONS_INIT;
    const strata_error *e = strata_last_error(nullptr);
    return (o.version == STRATA_OPTIONS_VERSION && e->code == STRATA_ENOMEM)
               ? 0
               : 1;
}
