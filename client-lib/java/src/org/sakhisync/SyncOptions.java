package org.sakhisync;

/**
 * Options of {@link SakhiClient#sync} and {@link SakhiClient#enroll} ({@code
 * sakhi_sync_options}). Every value left at 0 or null takes the library's default.
 */
public final class SyncOptions {
    int connectTimeoutMs;
    int ioTimeoutMs;
    int stallTimeoutMs;
    int batchSize;
    int pullLimit;
    int deadlineMs;
    String host;
    int port;
    ProgressListener progress;

    /** Connect timeout; 0 = 15000. */
    public SyncOptions connectTimeoutMs(int ms) {
        connectTimeoutMs = Check.nonNegative(ms, "connectTimeoutMs");
        return this;
    }

    /** No byte from the server while waiting for one; 0 = 30000. */
    public SyncOptions ioTimeoutMs(int ms) {
        ioTimeoutMs = Check.nonNegative(ms, "ioTimeoutMs");
        return this;
    }

    /** Watchdog: no change acknowledged and no record pulled for this long; 0 = 120000. */
    public SyncOptions stallTimeoutMs(int ms) {
        stallTimeoutMs = Check.nonNegative(ms, "stallTimeoutMs");
        return this;
    }

    /** Changes per PUSH (capped by the server); 0 = 64. */
    public SyncOptions batchSize(int n) {
        batchSize = Check.nonNegative(n, "batchSize");
        return this;
    }

    /** Records per PULL, 1..1000; 0 = 200. */
    public SyncOptions pullLimit(int n) {
        pullLimit = Check.nonNegative(n, "pullLimit");
        return this;
    }

    /**
     * The whole sync ends within this many ms (0 = no bound), as a background job must: it stops
     * sending new requests a tenth of it before (at most 15 s), collects the answers on their
     * way and fails with {@link Sakhi#ETIMEOUT}, {@link SyncResult#deadlineReached} set; the next
     * sync resumes there.
     */
    public SyncOptions deadlineMs(int ms) {
        deadlineMs = Check.nonNegative(ms, "deadlineMs");
        return this;
    }

    /** Use this server instead of the enrolled one (same pin check); null = enrolled. */
    public SyncOptions server(String host, int port) {
        this.port = Check.port(port);
        this.host = host;
        return this;
    }

    /** Told of each step; may cancel. Called on the syncing thread. */
    public SyncOptions progress(ProgressListener listener) {
        this.progress = listener;
        return this;
    }

    long[] numbers() {
        return new long[] {connectTimeoutMs, ioTimeoutMs, stallTimeoutMs, batchSize, pullLimit,
                           deadlineMs};
    }
}
