# Toolchain file: cross-build the client library, the protocol code and their tests for 64-bit
# ARM (aarch64, the phones field workers carry) with Debian's cross compiler
# (crossbuild-essential-arm64) against Debian's multiarch -dev packages (libfoo-dev:arm64).
# ctest runs the test programs under qemu-aarch64 through CMAKE_CROSSCOMPILING_EMULATOR.
# Used by scripts/cross-test.sh; see docs/FIELD.md, section "Portability".
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(SAKHI_CROSS_TRIPLET aarch64-linux-gnu)
set(SAKHI_CROSS_QEMU qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/toolchain-debian-cross.cmake)
