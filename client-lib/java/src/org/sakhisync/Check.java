package org.sakhisync;

/*
 * The range checks the option setters share: each returns its argument or throws
 * IllegalArgumentException naming what is wrong, so a setter refuses a value before it is kept.
 * Pure Java: building options never loads the native library.
 */
final class Check {
    private Check() {
    }

    /* v, refused when negative; what names the option in the message ("what < 0"). */
    static long nonNegative(long v, String what) {
        if (v < 0)
            throw new IllegalArgumentException(what + " < 0");
        return v;
    }

    static int nonNegative(int v, String what) {
        return (int) nonNegative((long) v, what);
    }

    /* port, refused when it is not a TCP port number (0 is: the default). */
    static int port(int port) {
        if (port < 0 || port > 65535)
            throw new IllegalArgumentException("port out of range");
        return port;
    }
}
