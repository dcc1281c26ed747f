/*
 * tls-certs: certificates made on the fly for the unit tests (OpenSSL,
 * P-256 keys): a CA, and certificates it signs, as PEM files in a
 * directory.
 */
#ifndef VMACD_TLS_CERTS_H
#define VMACD_TLS_CERTS_H 1

struct tls_ca;

/* A CA whose files go to 'dir' (which must exist) named after 'name':
 * NAME-ca.pem (and its key, kept in memory). */
struct tls_ca *tls_ca_create(const char *dir, const char *name);
void tls_ca_destroy(struct tls_ca *);
const char *tls_ca_file(const struct tls_ca *);

/* Writes DIR/CN-key.pem and DIR/CN-cert.pem, a certificate for 'cn'
 * signed by 'ca'.  Returns the malloc'd paths. */
void tls_ca_issue(struct tls_ca *, const char *cn, char **key_file,
                  char **cert_file);

#endif /* tls-certs.h */
