/*
 * vmacctl-private: what vmacctl's files (vmacctl.c, vmacctl-http.c,
 * vmacctl-table.c) share.  Not for use outside vmacctl; the daemon and
 * libvmacd do not include it.
 */
#ifndef VMACD_VMACCTL_PRIVATE_H
#define VMACD_VMACCTL_PRIVATE_H 1

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct ds;

/* vmacctl's exit codes. */
enum {
    EXIT_OK = 0,
    EXIT_API = 1,     /* The API answered with an error. */
    EXIT_USAGE = 2,   /* Usage error. */
    EXIT_CONNECT = 3, /* Cannot connect (or the connection failed). */
};

/* Global options, set by main() (vmacctl.c) before any command runs. */
extern const char *vmacctl_socket_path; /* --socket, $VMACD_SOCKET. */
extern const char *vmacctl_if_match;    /* --if-match: writes only. */
extern bool vmacctl_json_output;        /* --json. */
#define VMACCTL_DEFAULT_TIMEOUT_S 5
extern long vmacctl_timeout_ms; /* --timeout; 0: none. */
/* How long the daemon waits for the switches before it answers a write
 * (engine-write.c's WRITE_TIMEOUT): writes wait that much longer. */
#define VMACCTL_WRITE_WAIT_S 5

/* vmacctl-http.c: the API client (libcurl over the unix socket). */

void vmacctl_http_init(void);
void vmacctl_http_cleanup(void);

int vmacctl_call_api(const char *method, const char *path, const char *body,
                     void (*on_line)(const char *), json_t **replyp)
    __attribute__((warn_unused_result));

int vmacctl_get(const char *path, json_t **replyp)
    __attribute__((warn_unused_result));

void vmacctl_print_json(const json_t *);

/* vmacctl-table.c: rendering helpers. */

void vmacctl_put_value(struct ds *, const json_t *);
char *vmacctl_value_str(const json_t *obj, const char *key);
void vmacctl_print_field(const json_t *obj, const char *key,
                         const char *label);

/* A table: cells are collected row by row, then printed with every column
 * padded to its widest cell. */
struct vmacctl_table {
    size_t n_cols;
    size_t n_cells;
    char **cells;
};

void vmacctl_table_init(struct vmacctl_table *, const char *const *header,
                        size_t n_cols);
void vmacctl_table_add(struct vmacctl_table *, char *cell);
void vmacctl_table_print(struct vmacctl_table *);

#endif /* vmacctl-private.h */
