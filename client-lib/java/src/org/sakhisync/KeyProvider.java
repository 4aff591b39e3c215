package org.sakhisync;

/**
 * Guards the store's data key with a secret only the phone's hardware releases ({@code
 * sakhi_key_provider}): in an Android app, a key in the Android Keystore (StrongBox where the
 * phone has one). With a provider a copied store opens with no number of PIN guesses, and the
 * wrong-PIN limit is the provider's, which restoring the store's files does not reset. A store
 * made with a provider opens only with it ({@link Sakhi#EKEYPROVIDER} without); a store made
 * without one is rewrapped with it at the next correct open.
 *
 * <p>Both methods are called on the thread that called {@link SakhiClient#open}, during that
 * call only. {@code pinTag} ({@link Sakhi#PIN_TAG_LEN} bytes) is derived from the PIN with
 * Argon2id; it is not the PIN. To refuse, throw a {@link SakhiException} with the code to return
 * ({@link Sakhi#EPIN}, {@link Sakhi#ELOCKED}); any other exception fails the open with {@link
 * Sakhi#EKEYPROVIDER} and then reaches the caller of {@code open} unchanged. The binding wipes
 * the arrays holding the secret after each call; do not keep references to them.
 */
public interface KeyProvider {
    /**
     * Seal {@code secret} with the hardware key, bound to {@code pinTag}, and start the blob's
     * failure counter at 0. Returns the sealed blob, at most {@link Sakhi#KEY_BLOB_MAX} bytes;
     * the library stores it in the store.
     */
    byte[] wrap(byte[] secret, byte[] pinTag) throws SakhiException;

    /**
     * Open {@code blob} and compare {@code pinTag} with the tag it was sealed with, in constant
     * time. Match: reset the failure counter and return the secret. No match: count the failure
     * where a copy of the store cannot reset it and throw {@code SakhiException(Sakhi.EPIN,
     * ...)}; at the provider's limit ({@link Sakhi#PIN_ATTEMPTS_DEFAULT} is recommended) destroy
     * the key and throw with {@link Sakhi#ELOCKED}, then and on every later call.
     */
    byte[] unwrap(byte[] blob, byte[] pinTag) throws SakhiException;
}
