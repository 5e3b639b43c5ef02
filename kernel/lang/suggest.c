/* lang_suggest: the language's "did you mean" for other layers (magics). */
#include "lang.h"
#include "vm.h"

const char *lang_suggest(const char *name, const char *const *choices, int n)
{
    return suggest(name, choices, n);
}
