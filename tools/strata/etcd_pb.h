/*
 * etcd_pb.h: decoders of the etcd server's own records, which strata's
 * library never reads (docs/schema.md section 2 lists the buckets; etcd
 * 3.4 auth/authpb/auth.proto, etcdserverpb's AlarmMember,
 * etcdserver/api/membership/store.go and member.go):
 *
 *   authUsers        name -> authpb.User {1 name bytes, 2 password bytes,
 *                    3 roles repeated string, 4 options UserAddOptions
 *                    {1 no_password bool}}
 *   authRoles        name -> authpb.Role {1 name bytes, 2 keyPermission
 *                    repeated Permission {1 permType enum READ=0 WRITE=1
 *                    READWRITE=2, 2 key bytes, 3 range_end bytes}}
 *   alarm            AlarmMember {1 memberID uint64, 2 alarm enum NONE=0
 *                    NOSPACE=1 CORRUPT=2} -> empty value
 *   members          hex ID (types.ID.String()) -> JSON of membership.Member
 *                    {"id", "peerURLs", "isLearner", "name", "clientURLs"}
 *   members_removed  hex ID -> "removed"
 *
 * The protobuf decoders follow gogoproto's generated Unmarshal (the rules
 * of common/pbwire.h): fields in any order, a later scalar wins, repeated
 * fields append, unknown fields skipped, a known field with another wire
 * type refused. Views point into the input (valid as long as it is).
 */
#ifndef STRATA_ETCD_PB_H
#define STRATA_ETCD_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <strata/bolt.h>

typedef struct etcd_user {
    bolt_val name, password;
    size_t nroles;
    bolt_val *roles; /* malloc'd array of views */
    bool no_password;
} etcd_user;

typedef struct etcd_perm {
    int32_t type; /* 0 READ, 1 WRITE, 2 READWRITE (another number: shown as it is) */
    bolt_val key, range_end;
} etcd_perm;

typedef struct etcd_role {
    bolt_val name;
    size_t nperms;
    etcd_perm *perms; /* malloc'd */
} etcd_role;

typedef struct etcd_alarm {
    uint64_t member_id;
    int32_t alarm; /* 0 NONE, 1 NOSPACE, 2 CORRUPT */
} etcd_alarm;

/* 0, a STRATA_EPB* code, or -ENOMEM; free with etcd_user_free / etcd_role_free. */
int etcd_user_decode(bolt_val v, etcd_user *out);
void etcd_user_free(etcd_user *u);
int etcd_role_decode(bolt_val v, etcd_role *out);
void etcd_role_free(etcd_role *r);
int etcd_alarm_decode(bolt_val v, etcd_alarm *out);

/* Permission type and alarm names ("READ", "NOSPACE"; NULL for an unknown number). */
const char *etcd_perm_name(int32_t type);
const char *etcd_alarm_name(int32_t alarm);

/* A member ID key: lower-case hex without leading zeros, 1..16 digits. */
bool etcd_member_id(bolt_val key, uint64_t *id);

/*
 * A members record as `etcdctl member list -w json` prints a member:
 * {"ID", "name", "peerURLs", "clientURLs", "isLearner"} (empty ones left
 * out; ID from the key, exactly). NULL with why filled (at most why_size
 * bytes) when the key is not an ID, the value is not JSON of a member, or
 * its "id" is not the key's.
 */
json_t *etcd_member_json(bolt_val key, bolt_val value, char *why, size_t why_size);

#endif
