"""Griffe extension for the API reference (mkdocstrings reads it from ``mkdocs.yml``).

Two things the docstrings need on a Markdown site:

* Sphinx roles (``:func:`~stori_xr.fill.interpolate```) become links when they name
  something in stori_xr, and plain code otherwise (no inventories are downloaded);
* the named method options of ``interpolate`` and ``fit`` show their defaults'
  values (``radius: int = 8``), as ``inspect.signature`` does, not ``_OPT["radius"]``;
* the accessor's methods built from free functions (``plot_maps = _method(plot.plot_maps)``)
  are documented as methods: the free function's docstring, its parameters less the
  first (the object), ``self`` in its place.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|obj|exc|const):`(~?)\.?([^`<>]+)`")
ACCESSOR = "accessor.StoriAccessor"


def _lookup(pkg: griffe.Module, path: str) -> griffe.Object | griffe.Alias | None:
    if path != pkg.path and not path.startswith(pkg.path + "."):
        return None
    try:
        return pkg[path[len(pkg.path) + 1 :]] if path != pkg.path else pkg
    except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None


def _resolve(pkg: griffe.Module, obj: griffe.Object, target: str) -> str | None:
    """The documented path that ``target``, written in ``obj``'s docstring, names."""
    scopes = [""]
    parent: Any = obj
    while parent is not None:
        scopes.append(parent.path + ".")
        parent = parent.parent
    for scope in scopes:
        if _lookup(pkg, scope + target) is not None:
            return scope + target
    return None


def _roles(pkg: griffe.Module, obj: griffe.Object, text: str) -> str:
    def link(match: re.Match[str]) -> str:
        tilde, target = match.groups()
        title = target.rsplit(".", 1)[-1] if tilde else target
        path = _resolve(pkg, obj, target)
        if path is None:
            return f"`{title}`"
        return f'<autoref identifier="{path}" optional><code>{title}</code></autoref>'

    return ROLE.sub(link, text)


def _walk(obj: griffe.Object) -> Any:
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _walk(member)


def _wrapped(pkg: griffe.Module, member: Any) -> griffe.Function | None:
    """The free function behind an accessor member, when it is one built from it."""
    if member.is_alias:  # found by inspection: the wrapped function itself
        try:
            target = member.final_target
        except (griffe.AliasResolutionError, griffe.CyclicAliasError):
            return None
        return target if isinstance(target, griffe.Function) else None
    value = getattr(member, "value", None)  # static: `name = _method(module.func)`
    if isinstance(value, griffe.ExprCall) and value.arguments:
        argument = value.arguments[0]
        path = getattr(argument, "canonical_path", None)
        found = _lookup(pkg, path) if path else None
        if found is not None and found.is_alias:
            found = found.final_target
        return found if isinstance(found, griffe.Function) else None
    return None


def _without_param(text: str, param: str) -> str:
    """``text`` less the numpydoc entry of ``param`` (the object, which ``self`` is)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        names, sep, kind = line.partition(" :")
        listed = [name.strip() for name in names.split(",")]
        if line.startswith(" ") or param not in listed:
            continue
        if len(listed) > 1:  # `optical, sar, times` shares one entry
            lines[i] = ", ".join(n for n in listed if n != param) + sep + kind
            return "\n".join(lines)
        end = i + 1
        while end < len(lines) and (lines[end].startswith(" ") or not lines[end]):
            end += 1
        return "\n".join(lines[:i] + lines[end:])
    return text


def _as_method(name: str, func: griffe.Function) -> griffe.Function:
    first, *params = list(func.parameters)
    self_param = griffe.Parameter("self", kind=griffe.ParameterKind.positional_or_keyword)
    method = griffe.Function(
        name,
        lineno=func.lineno,
        endlineno=func.endlineno,
        parameters=griffe.Parameters(self_param, *params),
        returns=func.returns,
    )
    if func.docstring is not None:
        method.docstring = griffe.Docstring(
            _without_param(func.docstring.value, first.name),
            lineno=func.docstring.lineno,
            parent=method,
            parser=func.docstring.parser,
            parser_options=func.docstring.parser_options,
        )
    return method


OPTION_DEFAULT = re.compile(r"""^_OPT\[["'](\w+)["']\]$""")


def _method_defaults(func: griffe.Function) -> None:
    """Show a method option's default (``_OPT["radius"]`` in the source) as its value."""
    from stori_xr.fill import _OPT

    for param in func.parameters:
        match = OPTION_DEFAULT.match(str(param.default)) if param.default is not None else None
        if match and match.group(1) in _OPT:
            param.default = repr(_OPT[match.group(1)])


class StoriDocs(griffe.Extension):
    """Links for Sphinx roles; accessor methods shown with their real signatures."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Rewrite the loaded ``stori_xr`` package in place."""
        if pkg.path != "stori_xr":
            return
        for obj in _walk(pkg):
            if obj.docstring is not None:
                obj.docstring.value = _roles(pkg, obj, obj.docstring.value)
            if isinstance(obj, griffe.Function):
                _method_defaults(obj)
        try:
            accessor = pkg[ACCESSOR]
        except KeyError:
            return
        for name, member in list(accessor.members.items()):
            if name.startswith("_") or isinstance(member, griffe.Function):
                continue
            func = _wrapped(pkg, member)
            if func is not None:
                accessor.set_member(name, _as_method(name, func))
