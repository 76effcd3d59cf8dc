#pragma once
#include <png.h>
// libpng reports errors by longjmp; Swift cannot call setjmp, so these C wrappers do the reading and
// writing and return an error message instead. Implemented in Sources/CPNGCodec (a C target).
