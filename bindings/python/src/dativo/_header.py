"""Turn the C headers (include/dativo_arrow.h, include/dativo.h) into cffi declarations.

Used at build time by setup.py, which bundles the result with the package, and by the tests,
which check that the bundled declarations are exactly what the current headers give. The
declarations are never edited by hand: cbindgen writes the header, this module reads it.

cffi's parser understands C declarations and comments but no preprocessor, so the step is:
- drop every preprocessor line (#include, guards, #ifdef/#endif);
- drop whatever sits inside `#ifdef __cplusplus` blocks (the `extern "C" {` wrapper);
- keep `#define NAME <integer>`, which cffi turns into a constant (lib.DATIVO_ABI_VERSION),
  and drop other defines (strings such as DATIVO_VERSION), which cffi would reject.
Only standard-library imports: setup.py loads this file before the package exists.
"""

import re

_INT_DEFINE = re.compile(r"#\s*define\s+([A-Z_][A-Z0-9_]*)\s+(-?(?:0x[0-9A-Fa-f]+|\d+))[uUlL]*\s*(?://.*|/\*.*\*/)?$")
_STRING_DEFINE = re.compile(r'#\s*define\s+([A-Z_][A-Z0-9_]*)\s+"([^"]*)"')


def declarations(*header_texts: str) -> str:
    """The cffi declarations of the given header texts, in order."""
    out = []
    for text in header_texts:
        cplusplus_depth = 0  # > 0 while inside an `#ifdef __cplusplus` block
        depth = 0
        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith("#"):
                directive = stripped[1:].lstrip()
                if directive.startswith("if"):
                    depth += 1
                    if cplusplus_depth == 0 and re.match(r"ifdef\s+__cplusplus\b", directive):
                        cplusplus_depth = depth
                elif directive.startswith("endif"):
                    if depth == cplusplus_depth:
                        cplusplus_depth = 0
                    depth -= 1
                elif cplusplus_depth == 0:
                    match = _INT_DEFINE.match(stripped)
                    if match:
                        out.append(f"#define {match.group(1)} {match.group(2)}")
                continue
            if cplusplus_depth == 0:
                out.append(line)
    return "\n".join(out).strip() + "\n"


def string_defines(header_text: str) -> dict:
    """`#define NAME "text"` constants of a header (DATIVO_VERSION), which cffi cannot hold."""
    return {m.group(1): m.group(2) for m in _STRING_DEFINE.finditer(header_text)}
