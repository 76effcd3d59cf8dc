#pragma once
#include <mpi.h>
// Open MPI's handles are macros over global structs; expose them as functions Swift can call.
static inline MPI_Comm relief_MPI_COMM_WORLD(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype relief_MPI_FLOAT(void) { return MPI_FLOAT; }
static inline MPI_Datatype relief_MPI_DOUBLE(void) { return MPI_DOUBLE; }
static inline MPI_Datatype relief_MPI_BYTE(void) { return MPI_BYTE; }
static inline MPI_Datatype relief_MPI_INT64(void) { return MPI_INT64_T; }
static inline MPI_Datatype relief_MPI_INT(void) { return MPI_INT; }
static inline MPI_Op relief_MPI_SUM(void) { return MPI_SUM; }
static inline MPI_Op relief_MPI_MAX(void) { return MPI_MAX; }
static inline MPI_Op relief_MPI_MIN(void) { return MPI_MIN; }
static inline MPI_Request relief_MPI_REQUEST_NULL(void) { return MPI_REQUEST_NULL; }
static inline MPI_Status *relief_MPI_STATUS_IGNORE(void) { return MPI_STATUS_IGNORE; }
static inline MPI_Status *relief_MPI_STATUSES_IGNORE(void) { return MPI_STATUSES_IGNORE; }
static inline void *relief_MPI_IN_PLACE(void) { return MPI_IN_PLACE; }
static inline int relief_MPI_THREAD_FUNNELED(void) { return MPI_THREAD_FUNNELED; }
static inline MPI_Errhandler relief_MPI_ERRORS_RETURN(void) { return MPI_ERRORS_RETURN; }
static inline MPI_Op relief_MPI_LOR(void) { return MPI_LOR; }
static inline MPI_Op relief_MPI_LAND(void) { return MPI_LAND; }
static inline MPI_Info relief_MPI_INFO_NULL(void) { return MPI_INFO_NULL; }
static inline MPI_Comm relief_MPI_COMM_NULL(void) { return MPI_COMM_NULL; }
static inline int relief_MPI_COMM_TYPE_SHARED(void) { return MPI_COMM_TYPE_SHARED; }
static inline int relief_MPI_MAX_ERROR_STRING(void) { return MPI_MAX_ERROR_STRING; }
