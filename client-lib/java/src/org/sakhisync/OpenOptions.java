package org.sakhisync;

/**
 * Options of {@link SakhiClient#open} ({@code sakhi_options}). Every value left at 0 or null
 * takes the library's default.
 */
public final class OpenOptions {
    long mapSize;
    int kdfLog2N;
    int maxPinAttempts;
    String app;
    long testClockOffsetMs;
    LogListener log;
    int logLevel;

    /** LMDB map size in bytes; 0 = 256 MiB. */
    public OpenOptions mapSize(long bytes) {
        if (bytes < 0)
            throw new IllegalArgumentException("mapSize < 0");
        this.mapSize = bytes;
        return this;
    }

    /** scrypt cost 2^n for NEW stores; 0 = 15. Tests use about 10; real apps leave 0. */
    public OpenOptions kdfLog2N(int n) {
        if (n < 0)
            throw new IllegalArgumentException("kdfLog2N < 0");
        this.kdfLog2N = n;
        return this;
    }

    /** Wrong PINs in a row before the store locks; 0 = 10. */
    public OpenOptions maxPinAttempts(int n) {
        if (n < 0)
            throw new IllegalArgumentException("maxPinAttempts < 0");
        this.maxPinAttempts = n;
        return this;
    }

    /** App name and version for the server's logs (at most 64 bytes). */
    public OpenOptions app(String app) {
        this.app = app;
        return this;
    }

    /**
     * Send libsakhi's log lines up to {@code level} ({@link Sakhi#LOG_ERROR} .. {@link
     * Sakhi#LOG_DEBUG}; 0 = {@link Sakhi#LOG_WARN}) to {@code listener}; null: no logging.
     */
    public OpenOptions log(LogListener listener, int level) {
        if (level < 0 || level > Sakhi.LOG_DEBUG)
            throw new IllegalArgumentException("log level out of range");
        this.log = listener;
        this.logLevel = level;
        return this;
    }

    /** TEST ONLY: milliseconds added to the library's wall clock. Real apps leave 0. */
    public OpenOptions testClockOffsetMs(long ms) {
        this.testClockOffsetMs = ms;
        return this;
    }
}
