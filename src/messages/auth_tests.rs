use super::*;

fn token(text: &str) -> Option<Token> {
    Some(Token::new(text).unwrap())
}

/// Runs the exchange between the two state machines; returns the first error.
fn exchange(server_token: Option<Token>, client_token: Option<Token>) -> Result<(), AuthError> {
    let (mut server, challenge) = ServerAuth::new(server_token, [1; NONCE_LEN]);
    let mut client = ClientAuth::new(client_token, [2; NONCE_LEN]);
    let response = client.on_message(challenge)?.expect("a response");
    let accepted = server.on_message(response)?;
    assert_eq!(client.on_message(accepted)?, None);
    Ok(())
}

#[test]
fn same_token_or_none_on_both_sides_passes() {
    assert_eq!(exchange(token("s3cret"), token("s3cret")), Ok(()));
    assert_eq!(exchange(None, None), Ok(()));
}

#[test]
fn a_wrong_or_missing_token_fails_on_the_side_that_finds_it() {
    assert_eq!(
        exchange(token("s3cret"), token("guess")),
        Err(AuthError::WrongToken)
    );
    assert_eq!(
        exchange(token("s3cret"), None),
        Err(AuthError::MissingToken)
    );
    assert_eq!(
        exchange(None, token("s3cret")),
        Err(AuthError::ServerHasNoToken)
    );
}

#[test]
fn the_server_refuses_a_response_without_proof() {
    let (mut server, _) = ServerAuth::new(token("s3cret"), [1; NONCE_LEN]);
    let response = AuthMessage::Response {
        nonce: [2; NONCE_LEN],
        proof: None,
    };
    assert_eq!(server.on_message(response), Err(AuthError::MissingToken));
}

#[test]
fn a_recorded_response_fails_against_a_new_challenge() {
    let (mut first, challenge) = ServerAuth::new(token("s3cret"), [1; NONCE_LEN]);
    let mut client = ClientAuth::new(token("s3cret"), [2; NONCE_LEN]);
    let recorded = client.on_message(challenge).unwrap().unwrap();
    assert!(first.on_message(recorded.clone()).is_ok());
    let (mut second, _) = ServerAuth::new(token("s3cret"), [3; NONCE_LEN]);
    assert_eq!(second.on_message(recorded), Err(AuthError::WrongToken));
}

#[test]
fn a_server_that_does_not_know_the_token_cannot_forge_its_proof() {
    let (_, challenge) = ServerAuth::new(token("s3cret"), [1; NONCE_LEN]);
    let mut client = ClientAuth::new(token("s3cret"), [2; NONCE_LEN]);
    client.on_message(challenge).unwrap();
    let forged = AuthMessage::Accepted {
        proof: Some([0; 32]),
    };
    assert_eq!(client.on_message(forged), Err(AuthError::ServerWrongToken));
}

#[test]
fn messages_out_of_order_end_the_exchange() {
    let mut client = ClientAuth::new(token("s3cret"), [2; NONCE_LEN]);
    let early = AuthMessage::Accepted { proof: None };
    assert!(matches!(
        client.on_message(early),
        Err(AuthError::Unexpected { .. })
    ));
    let (mut server, challenge) = ServerAuth::new(None, [1; NONCE_LEN]);
    assert!(matches!(
        server.on_message(challenge),
        Err(AuthError::Unexpected { .. })
    ));
    let response = AuthMessage::Response {
        nonce: [2; NONCE_LEN],
        proof: None,
    };
    assert!(server.on_message(response.clone()).is_ok());
    assert!(matches!(
        server.on_message(response),
        Err(AuthError::Unexpected { .. })
    ));
}

#[test]
fn tokens_hide_themselves_and_reject_empty_text() {
    assert_eq!(Token::new("  \n"), Err(TokenError::Empty));
    assert_eq!(Token::new("abc\n").unwrap().expose(), "abc");
    let generated = Token::generate();
    assert_eq!(generated.expose().len(), 64);
    assert_ne!(generated, Token::generate());
    assert_eq!(format!("{generated:?}"), "Token(<hidden>)");
}

#[test]
fn auth_messages_round_trip() {
    let message = AuthMessage::Response {
        nonce: [7; NONCE_LEN],
        proof: Some([9; 32]),
    };
    let bytes = crate::messages::codec::encode(&message).unwrap();
    assert_eq!(
        crate::messages::codec::decode::<AuthMessage>(&bytes).unwrap(),
        message
    );
}

#[test]
fn token_files_are_read_trimmed_and_refused_when_missing_empty_or_public() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("taskforce-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str, mode: u32| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    };
    let good = write("good", "  s3cret\n", 0o600);
    assert_eq!(Token::from_file(&good).unwrap().expose(), "s3cret");
    let empty = write("empty", " \n", 0o600);
    assert_eq!(
        Token::from_file(&empty),
        Err(TokenError::EmptyFile {
            path: empty.clone()
        })
    );
    let public = write("public", "s3cret", 0o644);
    assert!(matches!(
        Token::from_file(&public),
        Err(TokenError::WorldReadable { mode: 0o644, .. })
    ));
    let missing = dir.join("missing");
    let error = Token::from_file(&missing).unwrap_err();
    assert!(matches!(error, TokenError::Unreadable { .. }));
    assert!(error.to_string().contains("missing"), "{error}");
    std::fs::remove_dir_all(&dir).unwrap();
}
