# Toolchain file: cross-build the client library, the protocol code and their tests for 32-bit
# ARM with hardware floating point (armhf, older and cheaper phones) with Debian's cross compiler
# (crossbuild-essential-armhf) against Debian's multiarch -dev packages (libfoo-dev:armhf).
# ctest runs the test programs under qemu-user through CMAKE_CROSSCOMPILING_EMULATOR.
# Used by scripts/cross-test.sh armhf; see docs/FIELD.md, section "Portability".
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(SAKHI_CROSS_TRIPLET arm-linux-gnueabihf)

set(CMAKE_C_COMPILER ${SAKHI_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${SAKHI_CROSS_TRIPLET}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${SAKHI_CROSS_TRIPLET})

set(CMAKE_FIND_ROOT_PATH /usr/${SAKHI_CROSS_TRIPLET})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# pkg-config must read the armhf .pc files only, never the amd64 ones.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${SAKHI_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")

# Test programs run under qemu-user with the multiarch libc6:armhf loader and libraries
# (see cmake/toolchain-aarch64.cmake for why "-L /").
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-arm -L /)
