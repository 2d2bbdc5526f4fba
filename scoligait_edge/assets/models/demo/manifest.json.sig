{
  "format": "scoligait-bundle-signature",
  "version": 1,
  "algorithm": "ed25519",
  "key_id": "d2492b8ff2ddebc3dce8cabc9e48732cf49137a63b248bc8acd5710d3a472b5b",
  "signed_file": "manifest.json",
  "manifest_sha256": "e8a1ffedae27cb38b6da9b27c0cdfa243b90483a0063d46b494c888525fe3a2e",
  "signature": "r029un36QSt9852+1JKov1OuMS873c4Yt4r8fg0g/etJjwSOtzKiFtS3DaDo68Xx5TzrGUPY21GYOZBhnA+pAA=="
}
