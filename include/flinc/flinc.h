/*
 * flinc/flinc.h - the one header a flinc job includes.
 */
#ifndef FLINC_FLINC_H
#define FLINC_FLINC_H

#include "flinc/error.h"
#include "flinc/row.h"
#include "flinc/datastream.h"
#include "flinc/connector.h"
#include "flinc/state.h"
#include "flinc/window.h"

#define FLINC_VERSION "0.1.0"

#endif
