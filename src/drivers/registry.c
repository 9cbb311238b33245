/* registry.c - placeholder until written. */
#include "strata_int.h"
typedef int strata__placeholder_registry;
