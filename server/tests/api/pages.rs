//! Server-side rendering is seeded with who is signed in.

use reqwest::StatusCode;

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_page_rendered_for_a_signed_in_user_knows_the_user() {
    // Arrange
    let app = spawn_app().await;
    let email = "pages@example.com";
    app.register(email, crate::helpers::PASSWORD).await;

    // Act
    let signed_in = app.get("/").await;
    let signed_out = reqwest::Client::new()
        .get(app.url("/"))
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(signed_in.status(), StatusCode::OK);
    assert!(signed_in.text().await.unwrap().contains(email));
    assert_eq!(signed_out.status(), StatusCode::OK);
    assert!(!signed_out.text().await.unwrap().contains(email));
}
