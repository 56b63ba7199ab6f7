"""Pack: a `PackRequest` → a `PackResult` exact to its budget.

`request` is the one request type, `closure` what a chunk needs and what depends on it, `fit` the
one fit-to-budget routine, `map` the signature map, and `packer` the entry point that ties them."""

import sys
import types


class _CallablePackage(types.ModuleType):
    """`repoctx.pack(repo, request)` packs: the package is also the public `pack` function (a
    submodule and a function of one name cannot otherwise both live on `repoctx`)."""

    def __call__(self, repo, request=None, redact: bool = True):
        from repoctx.pack.packer import pack
        from repoctx.pack.request import PackRequest
        return pack(repo, request or PackRequest(), redact)


sys.modules[__name__].__class__ = _CallablePackage
