#!/usr/bin/python3
"""Verifies an approval token with an independent JOSE implementation.

PyJWT (Debian's python3-jwt) with python3-cryptography, as an executor would:
the key is chosen by the token's kid from the broker's published JWKS
(GetSigningKey.jwks_json), then signature, alg, iss, aud, nbf and exp are
checked by PyJWT, and typ by this script.

Usage: verify_approval_token.py JWKS_FILE TOKEN_FILE ISSUER AUDIENCE
Exit 0 and print the claims as JSON when the token verifies; exit 1 and
print "refused: <reason>" when it does not; exit 2 on a usage error.
"""
import json
import sys

import jwt


def verify(jwks_text, token, issuer, audience):
    jwks = jwt.PyJWKSet.from_json(jwks_text)
    kid = jwt.get_unverified_header(token).get("kid")
    keys = [k for k in jwks.keys if k.key_id == kid]
    if len(keys) != 1:
        raise jwt.InvalidTokenError(f"no key {kid!r} in the key set")
    claims = jwt.decode(
        token,
        key=keys[0].key,
        algorithms=["EdDSA"],
        issuer=issuer,
        audience=audience,
        options={"require": ["iss", "aud", "iat", "nbf", "exp"]},
    )
    if jwt.get_unverified_header(token).get("typ") != "approval+jwt":
        raise jwt.InvalidTokenError("typ is not approval+jwt")
    return claims


def main(argv):
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        jwks_text = f.read()
    with open(argv[2], encoding="ascii") as f:
        token = f.read().strip()
    try:
        claims = verify(jwks_text, token, argv[3], argv[4])
    except jwt.InvalidTokenError as e:
        print(f"refused: {type(e).__name__}: {e}")
        return 1
    print(json.dumps(claims, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
