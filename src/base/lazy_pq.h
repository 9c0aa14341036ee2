/* lazy_pq.h - libpq (PostgreSQL's client library), opened on first use
 * (src/base/lazy.c).
 *
 * Only scrimd --cluster talks to PostgreSQL (src/server/cluster.c); a single
 * node must neither need libpq installed nor pay for loading it.  So the
 * cluster code calls libpq through pointers filled by scrim__pq_load()
 * (dlopen of libpq.so.5): include this header after <libpq-fe.h>, and call
 * scrim__pq_load() before the first libpq call. */
#ifndef SCRIM_PQ_LAZY_H
#define SCRIM_PQ_LAZY_H

#include <stddef.h>
#include <libpq-fe.h>

/* Every libpq function scrim calls. */
#define SCRIM__PQ_FUNCS(X)                                                    \
    X(pq, PQconnectdbParams) X(pq, PQstatus) X(pq, PQerrorMessage)            \
    X(pq, PQfinish) X(pq, PQexec) X(pq, PQexecParams) X(pq, PQresultStatus)   \
    X(pq, PQresultErrorMessage) X(pq, PQclear) X(pq, PQntuples)               \
    X(pq, PQgetvalue) X(pq, PQgetlength) X(pq, PQgetisnull) X(pq, PQsocket)   \
    X(pq, PQconsumeInput) X(pq, PQnotifies) X(pq, PQfreemem)                  \
    X(pq, PQsetNoticeProcessor) X(pq, PQtransactionStatus)

struct scrim__pqfn {
#define SCRIM__PQ_PTR(lib, f) __typeof__(f) *f;
    SCRIM__PQ_FUNCS(SCRIM__PQ_PTR)
#undef SCRIM__PQ_PTR
};
extern struct scrim__pqfn scrim__pqfn;

/* Opens libpq once; 0 or SCRIM_EFORMAT with err naming what is missing. */
int scrim__pq_load(char *err, size_t errlen);

#ifndef SCRIM__LAZY_IMPL
#define PQconnectdbParams (scrim__pqfn.PQconnectdbParams)
#define PQstatus (scrim__pqfn.PQstatus)
#define PQerrorMessage (scrim__pqfn.PQerrorMessage)
#define PQfinish (scrim__pqfn.PQfinish)
#define PQexec (scrim__pqfn.PQexec)
#define PQexecParams (scrim__pqfn.PQexecParams)
#define PQresultStatus (scrim__pqfn.PQresultStatus)
#define PQresultErrorMessage (scrim__pqfn.PQresultErrorMessage)
#define PQclear (scrim__pqfn.PQclear)
#define PQntuples (scrim__pqfn.PQntuples)
#define PQgetvalue (scrim__pqfn.PQgetvalue)
#define PQgetlength (scrim__pqfn.PQgetlength)
#define PQgetisnull (scrim__pqfn.PQgetisnull)
#define PQsocket (scrim__pqfn.PQsocket)
#define PQconsumeInput (scrim__pqfn.PQconsumeInput)
#define PQnotifies (scrim__pqfn.PQnotifies)
#define PQfreemem (scrim__pqfn.PQfreemem)
#define PQsetNoticeProcessor (scrim__pqfn.PQsetNoticeProcessor)
#define PQtransactionStatus (scrim__pqfn.PQtransactionStatus)
#endif

#endif
