# Turn files into a C source of byte arrays, so the kernelspec (template and
# logos) lives inside the hellodl binary and `hellodl install` needs nothing
# beside it. Usage: cmake -DOUT=file.c -DFILES="a|b" -DNAMES="x|y" -P embed.cmake
string(REPLACE "|" ";" FILES "${FILES}")
string(REPLACE "|" ";" NAMES "${NAMES}")
set(src "/* Generated from kernelspec/ by cmake/embed.cmake. Do not edit. */\n#include <stddef.h>\n")
list(LENGTH FILES n)
math(EXPR last "${n} - 1")
foreach(i RANGE ${last})
  list(GET FILES ${i} f)
  list(GET NAMES ${i} name)
  file(READ ${f} hex HEX)
  string(LENGTH "${hex}" hexlen)
  math(EXPR size "${hexlen} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND src "const unsigned char ${name}[] = {${bytes}0};\nconst size_t ${name}_len = ${size};\n")
endforeach()
file(WRITE ${OUT}.tmp "${src}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
