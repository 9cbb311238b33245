/*
 * event.c - the one way the library talks to the outside while it works.
 *
 * Events go to the handle's callback, synchronously; without a callback they
 * cost nothing but the check.
 */
#include "strata_int.h"

#include <stdio.h>

void strata__emit(strata *db, const strata_event *ev)
{
    if (db->on_event != NULL)
        db->on_event(ev, db->event_payload);
}

void strata__log(strata *db, strata_log_level level, const char *fmt, ...)
{
    if (db->on_event == NULL)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    strata_event ev = {0};
    ev.type = STRATA_EVENT_LOG;
    ev.module = db->module;
    ev.level = level;
    ev.message = msg;
    strata__emit(db, &ev);
}
