package org.sakhisync;

/**
 * A draft ({@code sakhi_referral}): a new referral, or edits to an existing record, held in
 * memory until {@link #save}d. Setters copy their argument and fail with {@link Sakhi#EINVAL}
 * for a value out of range or over its limit; the full validation (required fields, cross-field
 * rules) happens in {@link #validate} and {@link #save}, which fail with {@link
 * Sakhi#EVALIDATION} and name the field ({@link SakhiException#field()}). Setters return the
 * draft, so calls chain. Close the draft when done (saved or not).
 */
public final class Referral extends ClientObject {
    /* Which setter: shared with the switch in sakhi_jni.c. */
    static final int I_DISTRICT = 0, I_TAKEN_AT = 1, I_AGE = 2, I_AGE_BAND = 3, I_MINOR = 4,
                     I_SAFE_TO_CALL = 5, I_MARITAL = 6, I_CHILDREN = 7, I_CONCERN = 8,
                     I_URGENCY = 9, I_SOURCE = 10, I_STATUS = 11;
    static final int S_BLOCK = 0, S_VILLAGE = 1, S_NAME = 2, S_PHONE = 3, S_CONCERN_OTHER = 4,
                     S_NOTES = 5;
    static final int P_CONSENT = 0, P_SERVICE = 1;

    Referral(SakhiClient client, long ptr) {
        super(client, ptr);
    }

    @Override
    void free(long p) {
        Native.referralFree(p);
    }

    /* A native call on the client handle h and the live draft p. */
    interface DraftCall<T, E extends Exception> {
        T run(long h, long p) throws E;
    }

    interface DraftAction {
        void run(long h, long p) throws SakhiException;
    }

    /* f under the client's shared lock, then this draft's monitor (the lock order of
     * ClientObject). */
    private <T, E extends Exception> T call(DraftCall<T, E> f) throws E {
        return client.call(h -> {
            synchronized (this) {
                return f.run(h, live());
            }
        });
    }

    /* A setter: f as call does, then the draft, so calls chain. */
    private Referral update(DraftAction f) throws SakhiException {
        client.run(h -> {
            synchronized (this) {
                f.run(h, live());
            }
        });
        return this;
    }

    /** The draft's record id (36 characters). */
    public String id() {
        return call((h, p) -> Native.str(Native.referralId(p)));
    }

    private Referral setInt(int which, long v) throws SakhiException {
        return update((h, p) -> Native.referralSetInt(h, p, which, v));
    }

    private Referral setStr(int which, String v, String what) throws SakhiException {
        byte[] b = Native.bytes(v, what);
        return update((h, p) -> Native.referralSetStr(h, p, which, b));
    }

    private Referral setPair(int which, int a, int b) throws SakhiException {
        return update((h, p) -> Native.referralSetPair(h, p, which, a, b));
    }

    private static String nonNull(String v, String what) {
        if (v == null)
            throw new NullPointerException(what);
        return v;
    }

    /** One of the centre's districts: {@link District#code} from {@link SakhiClient#districts}. */
    public Referral district(int district) throws SakhiException {
        return setInt(I_DISTRICT, district);
    }

    public Referral block(String block) throws SakhiException {
        return setStr(S_BLOCK, nonNull(block, "block"), "block");
    }

    public Referral village(String village) throws SakhiException {
        return setStr(S_VILLAGE, nonNull(village, "village"), "village");
    }

    /** {@link Sakhi#TAKEN_HOME_VISIT}, ... */
    public Referral takenAt(int takenAt) throws SakhiException {
        return setInt(I_TAKEN_AT, takenAt);
    }

    /** The survivor's name, or "withheld". */
    public Referral name(String name) throws SakhiException {
        return setStr(S_NAME, nonNull(name, "name"), "name");
    }

    /** Age in years, 0..120. */
    public Referral age(int age) throws SakhiException {
        return setInt(I_AGE, age);
    }

    /** {@link Sakhi#AGE_UNDER_12}, ... */
    public Referral ageBand(int band) throws SakhiException {
        return setInt(I_AGE_BAND, band);
    }

    public Referral minor(boolean minor) throws SakhiException {
        return setInt(I_MINOR, minor ? 1 : 0);
    }

    /** The phone number; null records "no phone". */
    public Referral phone(String phone) throws SakhiException {
        return setStr(S_PHONE, phone, "phone");
    }

    public Referral safeToCall(boolean safe) throws SakhiException {
        return setInt(I_SAFE_TO_CALL, safe ? 1 : 0);
    }

    /** {@link Sakhi#MARITAL_MARRIED}, ... */
    public Referral marital(int marital) throws SakhiException {
        return setInt(I_MARITAL, marital);
    }

    public Referral children(int children) throws SakhiException {
        return setInt(I_CHILDREN, children);
    }

    /** Add one concern ({@link Sakhi#CONCERN_DOMESTIC_VIOLENCE}, ...); duplicates are ignored. */
    public Referral addConcern(int concern) throws SakhiException {
        return setInt(I_CONCERN, concern);
    }

    public Referral concernOther(String text) throws SakhiException {
        return setStr(S_CONCERN_OTHER, nonNull(text, "text"), "text");
    }

    /** {@link Sakhi#URGENCY_IMMEDIATE_DANGER}, ... */
    public Referral urgency(int urgency) throws SakhiException {
        return setInt(I_URGENCY, urgency);
    }

    /** {@link Sakhi#SOURCE_FRONTLINE_WORKER}, ... */
    public Referral source(int source) throws SakhiException {
        return setInt(I_SOURCE, source);
    }

    /** Consent to share with the centre and to be contacted. */
    public Referral consent(boolean share, boolean contact) throws SakhiException {
        return setPair(P_CONSENT, share ? 1 : 0, contact ? 1 : 0);
    }

    public Referral notes(String notes) throws SakhiException {
        return setStr(S_NOTES, nonNull(notes, "notes"), "notes");
    }

    /** A service's status ({@link Sakhi#SERVICE_LEGAL_AID}, {@link Sakhi#SERVICE_NEEDED}). */
    public Referral service(int service, int status) throws SakhiException {
        return setPair(P_SERVICE, service, status);
    }

    /** Status (centre staff; a field worker's referral is always created as new). */
    public Referral status(int status) throws SakhiException {
        return setInt(I_STATUS, status);
    }

    /**
     * Set an enumeration field by names ({@code sakhi_referral_set_enum}): {@code
     * set("urgency", "immediate_danger")}, {@code set("concerns", "child_marriage")} (adds one).
     */
    public Referral set(String field, String value) throws SakhiException {
        byte[] f = Native.required(field, "field");
        byte[] v = Native.required(value, "value");
        return update((h, p) -> Native.referralSetEnum(h, p, f, v));
    }

    /** Set field {@code key} to one complete MessagePack value ({@code sakhi_referral_set_raw}). */
    public Referral setRaw(int key, byte[] msgpack) throws SakhiException {
        if (msgpack == null)
            throw new NullPointerException("msgpack");
        return update((h, p) -> Native.referralSetRaw(h, p, key, msgpack));
    }

    /** Validate as {@link #save} would, without saving. */
    public void validate() throws SakhiException {
        update(Native::referralValidate);
    }

    /**
     * Validate and save the draft as one change, durable (fsync) before this returns. Returns
     * the record id. The draft stays open; saving it again saves nothing new unless changed.
     */
    public String save() throws SakhiException {
        return call((h, p) -> Native.str(Native.referralSave(h, p)));
    }
}
