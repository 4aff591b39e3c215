/*
 * sk_tlsfile.h - the centre's TLS certificate and key as files: loading them into a server
 * context, taking the pin of a certificate file, and making a new self-signed pair on disk.
 * The TLS work itself is proto/sk_tls.h, on bytes in memory; this module only reads and writes
 * the files.
 */
#ifndef SK_TLSFILE_H
#define SK_TLSFILE_H

#include "sk_tls.h"

#include <stddef.h>
#include <stdint.h>

/* Largest certificate or key file read (a chain of a few certificates is a few KiB). */
#define SK_TLSFILE_MAX (1u << 20)

/*
 * Server context from a PEM certificate file (chain; leaf first) and its PEM private key file.
 * On failure returns -SK_E_INTERNAL (or -SK_E_NOMEM, or -SK_E_BAD_VALUE for a missing path)
 * and writes a reason naming the file into err (if err != NULL); *out is set only on success.
 * Free with sk_tls_ctx_free.
 */
int sk_tls_ctx_new_server(sk_tls_ctx **out, const char *cert_pem_path, const char *key_pem_path,
                          char *err, size_t errlen);
/* The pin of the (first) certificate in a PEM file. 0, or -SK_E_INTERNAL with a reason in err. */
int sk_tls_pin_from_cert_file(uint8_t pin[SK_TLS_PIN_LEN], const char *cert_pem_path, char *err,
                              size_t errlen);
/*
 * Make a centre certificate (sk_tls_make_self_signed_pem: a new ECDSA P-256 key, valid from one
 * day ago for `days` days) and write it: the key file with mode 0600 and the certificate with
 * 0644; neither may exist already (a centre's key is what devices pin: overwriting it would
 * lock every enrolled device out). Files are fsync'ed. 0, or -SK_E_BAD_VALUE (bad arguments, a
 * file exists), -SK_E_STORE_IO (file I/O) or -SK_E_INTERNAL (OpenSSL), with a reason in err;
 * on failure no file is left behind.
 */
int sk_tls_make_self_signed(const char *cert_path, const char *key_path, const char *common_name,
                            int days, char *err, size_t errlen);
/* Same with explicit validity, in seconds relative to now (tests: expired or future certs). */
int sk_tls_make_self_signed_validity(const char *cert_path, const char *key_path,
                                     const char *common_name, int64_t not_before_s,
                                     int64_t not_after_s, char *err, size_t errlen);

#endif
