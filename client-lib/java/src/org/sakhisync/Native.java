package org.sakhisync;

import java.nio.charset.StandardCharsets;

/*
 * The JNI entry points (client-lib/java/jni/sakhi_jni.c), one per C call or small group of calls.
 * Handles travel as long values; the public classes own them and make sure none is used after it
 * is freed. Every string crosses as UTF-8 bytes (never JNI's modified UTF-8, which would mangle
 * characters outside the Basic Multilingual Plane); the C side adds the terminating NUL, and a
 * Java string holding U+0000 is refused here before it could be cut short there.
 */
final class Native {
    static {
        String path = System.getProperty("org.sakhisync.library");
        if (path != null && !path.isEmpty())
            System.load(path);
        else
            System.loadLibrary("sakhi_jni");
    }

    private Native() {
    }

    static String str(byte[] b) {
        return b == null ? "" : new String(b, StandardCharsets.UTF_8);
    }

    /* UTF-8 bytes of s (null stays null); what names the argument in the error. */
    static byte[] bytes(String s, String what) {
        if (s == null)
            return null;
        if (s.indexOf('\0') >= 0)
            throw new IllegalArgumentException(what + ": contains the character U+0000");
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static byte[] required(String s, String what) {
        if (s == null)
            throw new NullPointerException(what);
        return bytes(s, what);
    }

    static native byte[] version();
    static native byte[] strerror(int code);
    static native byte[] syncStateName(int state);
    /* {native objects alive (clients, drafts, records), bytes the binding and libsakhi hold}. */
    static native long[] debugCounts();

    /* handles[0] gets the client, handles[1] the log context (0 without a listener). */
    /* opts: {mapSize, kdfLog2N, maxPinAttempts, clockOffsetMs, logLevel, kdfMemoryKib,
     * kdfTargetMs}. */
    static native void open(byte[] path, byte[] pin, byte[] app, long[] opts, LogListener log,
                            KeyProvider keys, long[] handles) throws SakhiException;
    /* The reason sakhi_pin_check gives ("" when the PIN is accepted). */
    static native byte[] pinCheck(byte[] pin);
    static native void close(long c, long logCtx);

    /* Called by the JNI layer's log callback: the line arrives as UTF-8. */
    static void log(LogListener l, int level, byte[] line) {
        try {
            l.onLog(level, str(line));
        } catch (Throwable t) {
            /* dropped: a log line must never fail the library call that wrote it */
        }
    }
    static native void status(long c, long[] nums, byte[][] strs) throws SakhiException;
    static native long pendingCount(long c) throws SakhiException;
    static native int districtCount(long c);
    static native int district(long c, int i, byte[] lang, byte[][] out) throws SakhiException;
    static native int serverCount(long c);
    /** Server i: host and pin into out[0..1]; returns the port, with bit 32 set for the primary. */
    static native long server(long c, int i, byte[][] out) throws SakhiException;
    static native int list(long c, long[] filter, byte[] after, byte[][] ids, long[] nums,
                           byte[][] next) throws SakhiException;

    static native long referralNew(long c) throws SakhiException;
    static native long referralEdit(long c, byte[] id) throws SakhiException;
    static native void referralFree(long r);
    static native byte[] referralId(long r);
    static native void referralSetInt(long c, long r, int which, long v) throws SakhiException;
    static native void referralSetStr(long c, long r, int which, byte[] v) throws SakhiException;
    static native void referralSetPair(long c, long r, int which, int a, int b)
        throws SakhiException;
    static native void referralSetEnum(long c, long r, byte[] field, byte[] value)
        throws SakhiException;
    static native void referralSetRaw(long c, long r, int key, byte[] msgpack)
        throws SakhiException;
    static native void referralValidate(long c, long r) throws SakhiException;
    static native byte[] referralSave(long c, long r) throws SakhiException;
    static native void followupAdd(long c, byte[] id, byte[] text) throws SakhiException;
    static native void discardChange(long c, byte[] id) throws SakhiException;

    static native long recordGet(long c, byte[] id) throws SakhiException;
    static native void recordFree(long rec);
    static native void recordProps(long rec, long[] nums);
    static native byte[] recordText(long rec, int which);
    static native int recordGetStr(long rec, byte[] field, byte[][] out);
    static native int recordGetUint(long rec, byte[] field, long[] out);
    static native int recordGetBool(long rec, byte[] field, long[] out);
    static native byte[] recordFollowup(long rec, long i);
    static native byte[] recordJson(long c, byte[] id) throws SakhiException;

    static native void enroll(long c, byte[] host, int port, byte[] code, byte[] label,
                              byte[] serverPin, boolean plaintext, long[] syncOpts,
                              ProgressListener listener, int[] listenerThrew)
        throws SakhiException;
    static native void enrollUri(long c, byte[] uri, byte[] label, long[] syncOpts,
                                 ProgressListener listener, int[] listenerThrew)
        throws SakhiException;
    static native void sync(long c, long[] syncOpts, byte[] host, int port,
                            ProgressListener listener, long[] result, byte[][] rejTexts,
                            int[] rejCodes, int[] listenerThrew) throws SakhiException;
    static native void syncCancel(long c);

    static native void syncNetworkChanged(long c);

    static native void syncSummary(long c, long[] nums, byte[][] msg) throws SakhiException;
}
