# Toolchain file: cross-build the client library, the protocol code and their tests for 64-bit
# ARM (aarch64, the phones field workers carry) with Debian's cross compiler
# (crossbuild-essential-arm64) against Debian's multiarch -dev packages (libfoo-dev:arm64).
# ctest runs the test programs under qemu-user through CMAKE_CROSSCOMPILING_EMULATOR.
# Used by scripts/cross-test.sh; see docs/FIELD.md, section "Portability".
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(SAKHI_CROSS_TRIPLET aarch64-linux-gnu)

set(CMAKE_C_COMPILER ${SAKHI_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${SAKHI_CROSS_TRIPLET}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${SAKHI_CROSS_TRIPLET})

# Debian's cross gcc already searches /usr/include/<triplet> and /usr/lib/<triplet>; keep the
# build machine's own programs usable and its libraries out of reach.
set(CMAKE_FIND_ROOT_PATH /usr/${SAKHI_CROSS_TRIPLET})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# pkg-config must read the arm64 .pc files only, never the amd64 ones.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${SAKHI_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")

# Test programs run under qemu-user. "-L /" makes qemu load the multiarch libc6:arm64 loader
# (/lib/ld-linux-aarch64.so.1) and libraries (/lib/aarch64-linux-gnu), the same Debian versions
# as the -dev packages we linked against. -L /usr/aarch64-linux-gnu would pair the cross
# toolchain's older loader (libc6-arm64-cross) with the multiarch libc.so.6, a mismatched pair.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /)
