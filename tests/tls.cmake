# tls: the TLS 1.3 engine (proto/sk_tls.c) and the centre's certificate files
# (storage/sk_tlsfile.c): in-memory handshakes and data, the key pin, TLS 1.2
# refused, policy options, the certificate maker, and `openssl s_client` against the server
# engine on 127.0.0.1 (skipped with a message when the openssl binary is missing).
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/unit/test_tls.c)
  sakhi_add_test(test_tls
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/unit/test_tls.c
    LIBS sakhi_storage sakhi_proto
    LABELS unit
    TIMEOUT 60)
endif()
