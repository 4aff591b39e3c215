package org.sakhisync;

import java.nio.charset.StandardCharsets;

/**
 * A libsakhi call failed. {@link #code()} is the library's negative {@code SAKHI_E*} code (the
 * constants in {@link Sakhi}); {@link #detail()} is what {@code sakhi_errmsg} said about this
 * failure (which field, why; never a referral's content) and {@link #field()} the case-model
 * field at fault for validation and permission errors ("" when none). The message combines the
 * static text of the code ({@code sakhi_strerror}) with the detail.
 */
public class SakhiException extends Exception {
    private static final long serialVersionUID = 1L;

    private final int code;
    private final String detail;
    private final String field;

    public SakhiException(int code, String detail, String field) {
        super(compose(code, detail));
        this.code = code;
        this.detail = detail == null ? "" : detail;
        this.field = field == null ? "" : field;
    }

    /* Made by the JNI layer: the texts come as UTF-8 bytes (not modified UTF-8). */
    SakhiException(int code, byte[] detail, byte[] field) {
        this(code, Native.str(detail), Native.str(field));
    }

    /** Copy of e with a cause attached (used by subclasses that add context). */
    SakhiException(SakhiException e) {
        this(e.code, e.detail, e.field);
        initCause(e.getCause());
        setStackTrace(e.getStackTrace());
    }

    private static String compose(int code, String detail) {
        String base = Sakhi.strerror(code);
        if (detail == null || detail.isEmpty())
            return base + " (" + code + ")";
        return base + " (" + code + "): " + detail;
    }

    /** The {@code SAKHI_E*} code, negative. */
    public int code() {
        return code;
    }

    /** {@code sakhi_errmsg} of the failing call, "" when the library said nothing more. */
    public String detail() {
        return detail;
    }

    /** {@code sakhi_errfield}: the case-model field name at fault, or "". */
    public String field() {
        return field;
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
