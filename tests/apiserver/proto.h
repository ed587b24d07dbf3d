/* In-tree test API server: decoding of Kubernetes protobuf request bodies
 * (internal, prefix as_).
 *
 * kubectl 1.32 sends typed requests (kubectl create configmap/secret/
 * namespace/serviceaccount/role/rolebinding/clusterrole/clusterrolebinding,
 * kubectl create token, kubectl auth can-i, kubectl auth whoami) and
 * client-go the DeleteOptions of DELETE requests (helm 4 does) as
 * application/vnd.kubernetes.protobuf: the 4-byte magic "k8s\0" and a
 * runtime.Unknown envelope {typeMeta{apiVersion, kind}, raw, ...} whose raw
 * bytes are the object's generated protobuf message.  This module turns
 * those bodies into the JSON objects kube would decode, for the kinds above
 * (field numbers from k8s.io/api's generated.proto); other kinds are
 * DPM_EUNSUPPORTED (the caller answers 415).
 *
 * Ownership: *out is a new reference.  Errors: DPM_EPARSE (malformed
 * protobuf, naming the byte offset), DPM_EUNSUPPORTED, DPM_ELIMIT (nesting
 * deeper than 32), DPM_ENOMEM.
 */
#ifndef AS_PROTO_H
#define AS_PROTO_H

#include <stddef.h>

#include <jansson.h>

#include "dpm/error.h"

dpm_rc as_proto_decode(const unsigned char *data, size_t len, json_t **out, struct dpm_error *err);

#endif
