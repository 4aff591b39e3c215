# Toolchain file: cross-build the client library, the protocol code and their tests for 32-bit
# ARM with hardware floating point (armhf, older and cheaper phones) with Debian's cross compiler
# (crossbuild-essential-armhf) against Debian's multiarch -dev packages (libfoo-dev:armhf).
# ctest runs the test programs under qemu-arm through CMAKE_CROSSCOMPILING_EMULATOR.
# Used by scripts/cross-test.sh armhf; see docs/FIELD.md, section "Portability".
set(CMAKE_SYSTEM_PROCESSOR arm)
set(SAKHI_CROSS_TRIPLET arm-linux-gnueabihf)
set(SAKHI_CROSS_QEMU qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/toolchain-debian-cross.cmake)
