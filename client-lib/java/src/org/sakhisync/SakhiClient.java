package org.sakhisync;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * An open store: the Java face of {@code sakhi_client}. Capture, list, read, enroll and sync.
 *
 * <p>Threads: one client may be used from several threads at once, as the C handle may; {@link
 * #sync} blocks its thread (run it on a worker thread) while others capture and read, and {@link
 * #cancelSync} works from any thread. {@link #close} cancels a running sync, waits for it to
 * return, frees every draft and record still open, then frees the handle; any later call throws
 * {@link IllegalStateException}. Drafts ({@link Referral}) and records ({@link SakhiRecord}) take
 * turns when shared between threads. Close what you open (try-with-resources): the native memory
 * is not reclaimed by the garbage collector.
 */
public final class SakhiClient implements AutoCloseable {
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final Set<ClientObject> open =
        Collections.synchronizedSet(Collections.newSetFromMap(new IdentityHashMap<>()));
    private final Object closeMonitor = new Object();
    private volatile long handle;
    private volatile boolean closing;
    private final long logCtx;

    private SakhiClient(long handle, long logCtx) {
        this.handle = handle;
        this.logCtx = logCtx;
    }

    /**
     * Open the store in directory {@code path} (created when missing) with the worker's PIN, or
     * create a new store there protected by it ({@code sakhi_open}). The PIN's characters are
     * encoded as UTF-8 into a buffer that is wiped after the call; the caller may wipe {@code pin}
     * too. Throws {@link SakhiException} with {@link Sakhi#EPIN} (wrong PIN, the attempt was
     * counted), {@link Sakhi#ELOCKED}, {@link Sakhi#EWEAKPIN} (a new store refused the PIN),
     * {@link Sakhi#EKEYPROVIDER}, {@link Sakhi#EFORMAT}, {@link Sakhi#EIO}, ...; or, unchanged,
     * what the key provider threw other than a {@link SakhiException}.
     */
    public static SakhiClient open(String path, char[] pin, OpenOptions opts)
        throws SakhiException {
        byte[] pinBytes = encodePin(pin);
        try {
            return open(path, pinBytes, opts);
        } finally {
            Arrays.fill(pinBytes, (byte) 0);
        }
    }

    /** {@link #open(String, char[], OpenOptions)} with the PIN as UTF-8 bytes. */
    public static SakhiClient open(String path, byte[] pin, OpenOptions opts)
        throws SakhiException {
        if (pin == null)
            throw new NullPointerException("pin");
        for (byte b : pin)
            if (b == 0)
                throw new IllegalArgumentException("pin: contains a NUL byte");
        OpenOptions o = opts != null ? opts : new OpenOptions();
        long[] handles = new long[2];
        long[] nums = {o.mapSize, o.kdfLog2N, o.maxPinAttempts, o.testClockOffsetMs, o.logLevel,
                       o.kdfMemoryKib, o.kdfTargetMs};
        Native.open(Native.required(path, "path"), pin, Native.bytes(o.app, "app"), nums, o.log,
                    o.keyProvider, handles);
        return new SakhiClient(handles[0], handles[1]);
    }

    static byte[] encodePin(char[] pin) {
        if (pin == null)
            throw new NullPointerException("pin");
        CharsetEncoder enc = StandardCharsets.UTF_8.newEncoder();
        ByteBuffer buf;
        try {
            buf = enc.encode(CharBuffer.wrap(pin));
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("pin: not valid UTF-16 text");
        }
        byte[] out = new byte[buf.remaining()];
        buf.get(out);
        if (buf.hasArray())
            Arrays.fill(buf.array(), (byte) 0);
        return out;
    }

    /* ---- lifetime --------------------------------------------------------------------------- */

    /* Shared lock plus the live handle, or IllegalStateException when closed. Pair with leave(). */
    long acquire() {
        lock.readLock().lock();
        long h = handle;
        if (h == 0 || closing) {
            lock.readLock().unlock();
            throw new IllegalStateException("SakhiClient is closed");
        }
        return h;
    }

    /* Shared lock if the client is still open (true), for cleanup paths that must not throw. */
    boolean enter() {
        lock.readLock().lock();
        if (handle == 0) {
            lock.readLock().unlock();
            return false;
        }
        return true;
    }

    void leave() {
        lock.readLock().unlock();
    }

    /* A native call on the live handle, made between acquire() and leave(). */
    interface Call<T, E extends Exception> {
        T run(long h) throws E;
    }

    interface Action<E extends Exception> {
        void run(long h) throws E;
    }

    /* f on the live handle under the shared lock; IllegalStateException when closed. */
    <T, E extends Exception> T call(Call<T, E> f) throws E {
        long h = acquire();
        try {
            return f.run(h);
        } finally {
            leave();
        }
    }

    <E extends Exception> void run(Action<E> f) throws E {
        long h = acquire();
        try {
            f.run(h);
        } finally {
            leave();
        }
    }

    /* f on the handle under the shared lock when the client is still open, else nothing: for
     * the calls that must not throw once the client closed. */
    private void runIfOpen(Action<RuntimeException> f) {
        if (!enter())
            return;
        try {
            f.run(handle);
        } finally {
            leave();
        }
    }

    <T extends ClientObject> T remember(T o) {
        open.add(o);
        return o;
    }

    void forget(ClientObject o) {
        open.remove(o);
    }

    /**
     * Close the store ({@code sakhi_close}): cancel a running sync and wait until it returns, free
     * every draft and record still open, wipe the key material. Idempotent. Must not be called
     * from a progress listener of this client (IllegalStateException).
     */
    @Override
    public void close() {
        if (lock.getReadHoldCount() > 0)
            throw new IllegalStateException("close() from inside a call on this client");
        synchronized (closeMonitor) {
            if (handle == 0)
                return;
            closing = true;
            boolean interrupted = false;
            /* A running sync holds the shared lock: wake it until it lets go. Each round costs
             * one cancel; the sync returns promptly once canceled. */
            for (;;) {
                try {
                    if (lock.writeLock().tryLock(20, TimeUnit.MILLISECONDS))
                        break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
                Native.syncCancel(handle);
            }
            try {
                ClientObject[] left;
                synchronized (open) {
                    left = open.toArray(new ClientObject[0]);
                    open.clear();
                }
                for (ClientObject o : left)
                    o.release();
                Native.close(handle, logCtx);
                handle = 0;
            } finally {
                lock.writeLock().unlock();
            }
            if (interrupted)
                Thread.currentThread().interrupt();
        }
    }

    /** True once {@link #close} has begun. */
    public boolean isClosed() {
        return closing;
    }

    /* ---- device identity and counters ------------------------------------------------------- */

    /** The device identity and store counters ({@code sakhi_status_get}). */
    public Status status() throws SakhiException {
        return call(h -> {
            long[] n = new long[11];
            byte[][] s = new byte[3][];
            Native.status(h, n, s);
            return new Status(n, s);
        });
    }

    /** Changes waiting in the outbox ({@code sakhi_pending_count}). */
    public long pendingCount() throws SakhiException {
        return call(Native::pendingCount);
    }

    /**
     * The centre's districts, as its server last sent them ({@code sakhi_district_count} and
     * {@code sakhi_district_get}); empty before the first sync. Names in {@code lang} ("hi",
     * "ur", "lbj"; null: English).
     */
    public java.util.List<District> districts(String lang) throws SakhiException {
        return call(h -> {
            int n = Native.districtCount(h);
            java.util.List<District> out = new java.util.ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                byte[][] s = new byte[3][];
                int code = Native.district(h, i, lang == null ? null : Native.bytes(lang, "lang"), s);
                out.add(new District(code, s));
            }
            return java.util.Collections.unmodifiableList(out);
        });
    }

    /**
     * The centre's servers the device knows, in the order enrollment gave them
     * ({@code sakhi_server_count} and {@code sakhi_server_get}); empty before enrollment.
     */
    public java.util.List<Server> servers() throws SakhiException {
        return call(h -> {
            int n = Native.serverCount(h);
            java.util.List<Server> out = new java.util.ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                byte[][] s = new byte[2][];
                long pp = Native.server(h, i, s);
                out.add(new Server(pp, s));
            }
            return java.util.Collections.unmodifiableList(out);
        });
    }

    /* ---- capture ---------------------------------------------------------------------------- */

    /** A new referral draft with a fresh id ({@code sakhi_referral_new}). Close it when done. */
    public Referral newReferral() throws SakhiException {
        return call(h -> remember(new Referral(this, Native.referralNew(h))));
    }

    /** A draft of edits to record {@code id} ({@code sakhi_referral_edit}). */
    public Referral editReferral(String id) throws SakhiException {
        byte[] b = Native.required(id, "id");
        return call(h -> remember(new Referral(this, Native.referralEdit(h, b))));
    }

    /** Add a follow-up (1..4000 bytes of UTF-8) to record {@code id}, saved as one change. */
    public void addFollowup(String id, String text) throws SakhiException {
        byte[] bid = Native.required(id, "id");
        byte[] btext = Native.required(text, "text");
        run(h -> Native.followupAdd(h, bid, btext));
    }

    /** Discard the rejected change of record {@code id} ({@code sakhi_discard_change}). */
    public void discardChange(String id) throws SakhiException {
        byte[] bid = Native.required(id, "id");
        run(h -> Native.discardChange(h, bid));
    }

    /* ---- reading ---------------------------------------------------------------------------- */

    /** Load record {@code id}, decrypted ({@code sakhi_record_get}). Close it when done. */
    public SakhiRecord record(String id) throws SakhiException {
        byte[] bid = Native.required(id, "id");
        return call(h -> remember(new SakhiRecord(this, Native.recordGet(h, bid))));
    }

    /** Record {@code id} as one JSON object ({@code sakhi_record_json}). */
    public String recordJson(String id) throws SakhiException {
        byte[] bid = Native.required(id, "id");
        return call(h -> Native.str(Native.recordJson(h, bid)));
    }

    /** The largest page {@link #list} returns. */
    public static final int MAX_PAGE = 1000;

    /**
     * One page of at most {@code cap} (1..{@link #MAX_PAGE}) records matching {@code filter}
     * (null: all), in capture order, read from the plain index only ({@code sakhi_list}).
     */
    public ListPage list(ListFilter filter, int cap) throws SakhiException {
        if (cap < 1 || cap > MAX_PAGE)
            throw new IllegalArgumentException("cap must be 1.." + MAX_PAGE);
        ListFilter f = filter != null ? filter : new ListFilter();
        byte[] after = Native.bytes(f.after, "after");
        byte[][] ids = new byte[cap][];
        long[] nums = new long[5 * cap];
        byte[][] next = new byte[1][];
        int n = call(h -> Native.list(h, f.numbers(), after, ids, nums, next));
        List<ListItem> items = new ArrayList<>(n);
        for (int i = 0; i < n; i++)
            items.add(new ListItem(Native.str(ids[i]), (int) nums[5 * i], (int) nums[5 * i + 1],
                                   (int) nums[5 * i + 2], nums[5 * i + 3], nums[5 * i + 4] != 0));
        return new ListPage(items, Native.str(next[0]));
    }

    /* ---- enrollment and sync ---------------------------------------------------------------- */

    /**
     * Enroll this device with the centre's server ({@code sakhi_enroll_opts}); blocking. {@code
     * opts} (may be null) gives timeouts and a progress listener. Throws {@link SakhiException}
     * ({@link Sakhi#ESERVERKEY}, {@link Sakhi#EENROLLCODE}, {@link Sakhi#ENET}, ...), or what the
     * progress listener threw.
     */
    public void enroll(EnrollOptions eo, SyncOptions opts) throws SakhiException {
        if (eo == null)
            throw new NullPointerException("eo");
        SyncOptions o = opts != null ? opts : new SyncOptions();
        byte[] host = Native.bytes(eo.host, "host");
        byte[] code = Native.bytes(eo.code, "code");
        byte[] label = Native.bytes(eo.label, "label");
        byte[] pin = Native.bytes(eo.serverPin, "serverPin");
        int[] threw = new int[1];
        run(h -> Native.enroll(h, host, eo.port, code, label, pin, eo.plaintext, o.numbers(),
                               o.progress, threw));
    }

    /**
     * Enroll from the enrollment URI the centre's administrator hands over as text or a QR code
     * ({@code sakhi_enroll_uri}): {@code sakhi:enroll?v=1&addr=HOST:PORT&code=CODE&pin=HEX64}.
     * Always TLS checked against the URI's pin; the addresses are tried in order. Blocking.
     * {@code label} (may be null) names the device for administrators. Throws {@link
     * SakhiException} as {@link #enroll(EnrollOptions, SyncOptions)} does, {@link Sakhi#EINVAL}
     * with the reason for a URI that does not parse, or what the progress listener threw.
     */
    public void enroll(String uri, String label, SyncOptions opts) throws SakhiException {
        byte[] u = Native.required(uri, "uri");
        byte[] l = Native.bytes(label, "label");
        SyncOptions o = opts != null ? opts : new SyncOptions();
        run(h -> Native.enrollUri(h, u, l, o.numbers(), o.progress, new int[1]));
    }

    /** {@link #sync(SyncOptions)} with the defaults. */
    public SyncResult sync() throws SakhiException {
        return sync(null);
    }

    /**
     * Sync with the server ({@code sakhi_sync}), blocking until done, failed or canceled. Safe to
     * cut at any point: the next sync resumes without losing or repeating anything. Rejected
     * changes are not a failure (see {@link SyncResult#rejections}). Throws {@link SyncException}
     * carrying what was done ({@link Sakhi#ECANCELED} after {@link #cancelSync} or a listener that
     * returned false, {@link Sakhi#ENET}, {@link Sakhi#EBUSY} when a sync already runs, ...), or,
     * unchanged, what the progress listener threw.
     */
    public SyncResult sync(SyncOptions opts) throws SakhiException {
        SyncOptions o = opts != null ? opts : new SyncOptions();
        byte[] host = Native.bytes(o.host, "host");
        long[] res = new long[SyncResult.NUMBERS];
        byte[][] texts = new byte[3 * SyncResult.MAX_REJECTIONS][];
        int[] codes = new int[SyncResult.MAX_REJECTIONS];
        int[] threw = new int[1];
        try {
            run(h -> Native.sync(h, o.numbers(), host, o.port, o.progress, res, texts, codes, threw));
        } catch (SakhiException e) {
            if (threw[0] != 0)
                throw e;
            throw new SyncException(e, new SyncResult(res, texts, codes));
        }
        return new SyncResult(res, texts, codes);
    }

    /**
     * Ask the running sync or enrollment to stop ({@code sakhi_sync_cancel}); it fails promptly
     * with {@link Sakhi#ECANCELED}. Does nothing when none runs or the client is closed. Any
     * thread.
     */
    public void cancelSync() {
        runIfOpen(Native::syncCancel);
    }

    /**
     * Tell the running sync that the network changed ({@code sakhi_sync_network_changed}), as
     * Android's {@code ConnectivityManager.NetworkCallback} would: it drops its connection at
     * once and starts over on the new network within the same {@link #sync} call, from where it
     * stopped. Does nothing when no sync runs or the client is closed. Any thread.
     */
    public void networkChanged() {
        runIfOpen(Native::syncNetworkChanged);
    }

    /**
     * What a home screen shows about syncing ({@code sakhi_sync_summary_get}): last success and
     * attempt, the last error, what waits and how old the oldest waiting change is. Safe while a
     * sync runs.
     */
    public SyncSummary syncSummary() throws SakhiException {
        return call(h -> {
            long[] n = new long[SyncSummary.NUMBERS];
            byte[][] msg = new byte[1][];
            Native.syncSummary(h, n, msg);
            return new SyncSummary(n, msg[0]);
        });
    }
}
