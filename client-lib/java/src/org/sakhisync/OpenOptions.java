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
    KeyProvider keyProvider;
    int kdfMemoryKib;
    int kdfTargetMs;

    /** LMDB map size in bytes; 0 = 256 MiB. */
    public OpenOptions mapSize(long bytes) {
        this.mapSize = Check.nonNegative(bytes, "mapSize");
        return this;
    }

    /*
     * Test hook, package-private (not in the API): nonzero gives NEW stores a fixed, tiny
     * Argon2id cost (2^n KiB, one pass, no calibration) so tests stay fast.
     */
    OpenOptions kdfLog2N(int n) {
        this.kdfLog2N = Check.nonNegative(n, "kdfLog2N");
        return this;
    }

    /** Wrong PINs in a row before the store locks; 0 = 10. */
    public OpenOptions maxPinAttempts(int n) {
        this.maxPinAttempts = Check.nonNegative(n, "maxPinAttempts");
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

    /**
     * The key provider that guards the store's data key (see {@link KeyProvider}); null: the PIN
     * alone protects the store.
     */
    public OpenOptions keyProvider(KeyProvider provider) {
        this.keyProvider = provider;
        return this;
    }

    /**
     * Argon2id for NEW stores: memory in KiB (0 = 65536) and the time one unlock should take on
     * this device in ms (0 = 1000); the passes are measured at creation to meet the time.
     */
    public OpenOptions kdf(int memoryKib, int targetMs) {
        if (memoryKib < 0 || targetMs < 0)
            throw new IllegalArgumentException("negative KDF parameter");
        this.kdfMemoryKib = memoryKib;
        this.kdfTargetMs = targetMs;
        return this;
    }

    /* Test hook, package-private (not in the API): milliseconds added to the wall clock. */
    OpenOptions testClockOffsetMs(long ms) {
        this.testClockOffsetMs = ms;
        return this;
    }
}
