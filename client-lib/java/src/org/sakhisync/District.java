package org.sakhisync;

/**
 * One of the districts the centre serves, as its server sent them ({@code sakhi_district_get}).
 * The list is the centre's data: {@link SakhiClient#districts} reads what the device has.
 */
public final class District {
    /** The value {@link Referral#district} takes. */
    public final int code;
    /** Stable name, "leh". */
    public final String slug;
    /** Its case numbers' prefix, "LEH". */
    public final String prefix;
    /** The name in the language asked for, else English. */
    public final String name;

    District(int code, byte[][] s) {
        this.code = code;
        slug = Native.str(s[0]);
        prefix = Native.str(s[1]);
        name = Native.str(s[2]);
    }

    @Override
    public String toString() {
        return code + " " + slug + " (" + prefix + ") " + name;
    }
}
