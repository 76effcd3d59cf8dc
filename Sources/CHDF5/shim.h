#pragma once
#include <hdf5.h>
// Swift cannot import HDF5's macros that expand to global ids (they call H5open first), so expose them as functions.
static inline hid_t relief_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t relief_H5P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }
static inline hid_t relief_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline hid_t relief_H5S_ALL(void) { return H5S_ALL; }
static inline unsigned relief_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline unsigned relief_H5F_ACC_EXCL(void) { return H5F_ACC_EXCL; }
static inline unsigned relief_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned relief_H5F_ACC_RDWR(void) { return H5F_ACC_RDWR; }
static inline hid_t relief_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t relief_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t relief_H5T_NATIVE_UINT8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t relief_H5T_NATIVE_UINT16(void) { return H5T_NATIVE_UINT16; }
static inline hid_t relief_H5T_NATIVE_INT32(void) { return H5T_NATIVE_INT32; }
static inline hid_t relief_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t relief_H5T_NATIVE_UINT32(void) { return H5T_NATIVE_UINT32; }
static inline hid_t relief_H5T_IEEE_F32LE(void) { return H5T_IEEE_F32LE; }
static inline hid_t relief_H5T_STD_U8LE(void) { return H5T_STD_U8LE; }
static inline hid_t relief_H5T_STD_I32LE(void) { return H5T_STD_I32LE; }
static inline hid_t relief_H5T_STD_I64LE(void) { return H5T_STD_I64LE; }
static inline hid_t relief_H5T_C_S1(void) { return H5T_C_S1; }
// Silence HDF5's own stderr error stack: Relief reports errors itself, naming the file.
static inline void relief_H5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
static inline hid_t relief_H5P_FILE_CREATE(void) { return H5P_FILE_CREATE; }
static inline hid_t relief_H5T_NATIVE_CHAR(void) { return H5T_NATIVE_CHAR; }
static inline size_t relief_H5T_VARIABLE(void) { return H5T_VARIABLE; }
static inline hid_t relief_H5T_STD_U32LE(void) { return H5T_STD_U32LE; }
