package org.sakhisync;

/**
 * libsakhi for Java: version, error texts and the constants of {@code sakhi.h}, with the same
 * names minus the {@code SAKHI_} prefix ({@code SAKHI_EPIN} is {@link #EPIN}, {@code
 * SAKHI_URGENCY_URGENT} is {@link #URGENCY_URGENT}). The values are the C header's (a test
 * compares them with the header). Start with {@link SakhiClient#open}.
 */
public final class Sakhi {
    private Sakhi() {
    }

    /** The native library's version ({@code sakhi_version()}), e.g. "0.1.0". */
    public static String version() {
        return Native.str(Native.version());
    }

    /** Static English text of a {@code SAKHI_E*} code ("unknown error" for unknown codes). */
    public static String strerror(int code) {
        return Native.str(Native.strerror(code));
    }

    /** Name of a {@code SYNC_*} state ("pending"), "unknown" otherwise. */
    public static String syncStateName(int state) {
        return Native.str(Native.syncStateName(state));
    }

    /**
     * Whether {@code pin} may protect a NEW store ({@code sakhi_pin_check}): "" when accepted,
     * otherwise why not ("too short", a common pattern). Stores that exist keep opening with the
     * PIN they were made with. The PIN's UTF-8 copy is wiped after the check.
     */
    public static String checkPin(char[] pin) {
        byte[] b = SakhiClient.encodePin(pin);
        try {
            return str(Native.pinCheck(b));
        } finally {
            java.util.Arrays.fill(b, (byte) 0);
        }
    }

    private static String str(byte[] b) {
        return Native.str(b);
    }

    /** Length of a record id in text form (36 characters). */
    public static final int ID_LENGTH = 36;

    public static final int EINVAL = -1;
    public static final int ENOMEM = -2;
    public static final int EIO = -3;
    public static final int EFULL = -4;
    public static final int EPIN = -5;
    public static final int ELOCKED = -6;
    public static final int ENOTFOUND = -7;
    public static final int EVALIDATION = -8;
    public static final int ENOTENROLLED = -9;
    public static final int EENROLLED = -10;
    public static final int ENET = -11;
    public static final int ETIMEOUT = -12;
    public static final int ECANCELED = -13;
    public static final int EPROTO = -14;
    public static final int EAUTH = -15;
    public static final int EREVOKED = -16;
    public static final int EENROLLCODE = -17;
    public static final int ESERVER = -18;
    public static final int EBUSY = -19;
    public static final int EFORMAT = -20;
    public static final int ESTATE = -21;
    public static final int EVERSION = -22;
    public static final int EFORBIDDEN = -23;
    /** The server's TLS key is not the one pinned at enrollment. */
    public static final int ESERVERKEY = -24;
    /** A new store refused the PIN: too short or too common ({@link #checkPin}). */
    public static final int EWEAKPIN = -25;
    /** The store needs its key provider, or the provider failed. */
    public static final int EKEYPROVIDER = -26;
    /** Shortest PIN a new store accepts. */
    public static final int PIN_MIN_LEN = 6;
    /** Largest blob a {@link KeyProvider} may return from wrap. */
    public static final int KEY_BLOB_MAX = 1024;
    /** Length of the PIN tag handed to a {@link KeyProvider}. */
    public static final int PIN_TAG_LEN = 32;
    /** Wrong PINs a {@link KeyProvider} should allow before it destroys its key. */
    public static final int PIN_ATTEMPTS_DEFAULT = 10;
    public static final int LOG_ERROR = 1;
    public static final int LOG_WARN = 2;
    public static final int LOG_INFO = 3;
    public static final int LOG_DEBUG = 4;
    public static final int ROLE_NONE = 0;
    public static final int ROLE_FIELD = 1;
    public static final int ROLE_STAFF = 2;
    public static final int ROLE_ADMIN = 3;
    public static final int TAKEN_HOME_VISIT = 1;
    public static final int TAKEN_ANGANWADI_CENTRE = 2;
    public static final int TAKEN_HEALTH_CENTRE = 3;
    public static final int TAKEN_POLICE_STATION = 4;
    public static final int TAKEN_PHONE = 5;
    public static final int TAKEN_OSC = 6;
    public static final int AGE_UNDER_12 = 1;
    public static final int AGE_12_17 = 2;
    public static final int AGE_18_29 = 3;
    public static final int AGE_30_44 = 4;
    public static final int AGE_45_59 = 5;
    public static final int AGE_60_PLUS = 6;
    public static final int MARITAL_UNMARRIED = 1;
    public static final int MARITAL_MARRIED = 2;
    public static final int MARITAL_SEPARATED = 3;
    public static final int MARITAL_DIVORCED = 4;
    public static final int MARITAL_WIDOWED = 5;
    public static final int CONCERN_DOMESTIC_VIOLENCE = 1;
    public static final int CONCERN_FINANCIAL_ABUSE = 2;
    public static final int CONCERN_CYBER_BULLYING = 3;
    public static final int CONCERN_ABANDONMENT = 4;
    public static final int CONCERN_DRUG_ABUSE = 5;
    public static final int CONCERN_CHILD_MARRIAGE = 6;
    public static final int CONCERN_SEXUAL_OFFENCE_MINOR = 7;
    public static final int CONCERN_OTHER = 8;
    public static final int URGENCY_IMMEDIATE_DANGER = 1;
    public static final int URGENCY_URGENT = 2;
    public static final int URGENCY_ROUTINE = 3;
    public static final int SOURCE_SELF = 1;
    public static final int SOURCE_HELPLINE_181 = 2;
    public static final int SOURCE_POLICE = 3;
    public static final int SOURCE_HOSPITAL = 4;
    public static final int SOURCE_COURT = 5;
    public static final int SOURCE_GOVERNMENT_DEPARTMENT = 6;
    public static final int SOURCE_NGO = 7;
    public static final int SOURCE_FAMILY = 8;
    public static final int SOURCE_COMMUNITY = 9;
    public static final int SOURCE_FRONTLINE_WORKER = 10;
    public static final int STATUS_NEW = 1;
    public static final int STATUS_RECEIVED = 2;
    public static final int STATUS_ACCEPTED = 3;
    public static final int STATUS_IN_SERVICE = 4;
    public static final int STATUS_CLOSED = 5;
    public static final int STATUS_REFERRED = 6;
    public static final int SERVICE_LEGAL_AID = 1;
    public static final int SERVICE_MEDICAL_ASSISTANCE = 2;
    public static final int SERVICE_POLICE_FACILITATION = 3;
    public static final int SERVICE_COUNSELLING = 4;
    public static final int SERVICE_SHELTER = 5;
    public static final int SERVICE_NEEDED = 1;
    public static final int SERVICE_IN_PROGRESS = 2;
    public static final int SERVICE_GIVEN = 3;
    public static final int SERVICE_DECLINED = 4;
    public static final int SERVICE_NOT_NEEDED = 5;
    public static final int SYNC_PENDING = 1;
    public static final int SYNC_SENT = 2;
    public static final int SYNC_RECEIVED = 3;
    public static final int SYNC_ACCEPTED = 4;
    public static final int SYNC_REJECTED = 5;
    public static final int SYNC_CONFLICT = 6;
    public static final int PHASE_CONNECT = 1;
    public static final int PHASE_HANDSHAKE = 2;
    public static final int PHASE_PUSH = 3;
    public static final int PHASE_PULL = 4;
    public static final int PHASE_DONE = 5;
    /** The server's TLS key is not the one pinned at enrollment. */
}

