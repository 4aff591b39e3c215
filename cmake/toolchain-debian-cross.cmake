# What every cross toolchain file shares: Debian's cross compiler for SAKHI_CROSS_TRIPLET
# (crossbuild-essential-<arch>) against Debian's multiarch -dev packages (libfoo-dev:<arch>),
# with test programs run under qemu-user. The including file sets CMAKE_SYSTEM_PROCESSOR,
# SAKHI_CROSS_TRIPLET and SAKHI_CROSS_QEMU first.
set(CMAKE_SYSTEM_NAME Linux)

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

# pkg-config must read the target's .pc files only, never the build machine's.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${SAKHI_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")

# "-L /" makes qemu load the multiarch libc6:<arch> loader (e.g. /lib/ld-linux-aarch64.so.1)
# and libraries (/lib/<triplet>), the same Debian versions as the -dev packages we linked
# against. -L /usr/<triplet> would pair the cross toolchain's older loader (libc6-<arch>-cross)
# with the multiarch libc.so.6, a mismatched pair.
set(CMAKE_CROSSCOMPILING_EMULATOR ${SAKHI_CROSS_QEMU} -L /)
