//! The tray icon: the overall progress of running uploads (a status line in its menu, refreshed every
//! second), Show and Quit. Where no tray host library is installed the app runs without one and, having no
//! way back to a hidden window, quits once the uploads it kept running in the background are done.

use std::sync::Arc;
use std::time::Duration;

use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};

use crate::background::Activity;

/// Shows and focuses the main window.
pub fn show<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

/// Installs the tray icon and its refresh loop; false when the system has no tray support.
pub fn install<R: Runtime>(app: &AppHandle<R>, activity: Arc<Activity>) -> bool {
    // The tray library loads the system's indicator library when first used, and panics without one.
    let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| build(app)));
    let status = match built {
        Ok(Ok(status)) => Some(status),
        Ok(Err(e)) => {
            eprintln!("delta-bridge: no tray icon: {e}");
            None
        }
        Err(_) => {
            eprintln!("delta-bridge: no tray icon: the system's indicator library is missing");
            None
        }
    };
    let tray = status.is_some();
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let mut was_running = false;
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if let Some(status) = &status {
                let _ = status.set_text(activity.summary());
            }
            let running = activity.running();
            // Without a tray, a window hidden to finish uploads cannot come back: quit once they are done.
            let hidden = app
                .get_webview_window("main")
                .and_then(|w| w.is_visible().ok())
                == Some(false);
            if !tray && was_running && !running && hidden {
                app.exit(0);
            }
            was_running = running;
        }
    });
    tray
}

fn build<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<MenuItem<R>> {
    let status = MenuItem::with_id(
        app,
        "status",
        "Delta-Bridge: nothing uploading",
        false,
        None::<&str>,
    )?;
    let show_item = MenuItem::with_id(app, "show", "Show Delta-Bridge", true, None::<&str>)?;
    let quit = MenuItem::with_id(
        app,
        "quit",
        "Quit (uploads resume at the next launch)",
        true,
        None::<&str>,
    )?;
    let menu = Menu::with_items(app, &[&status, &show_item, &quit])?;
    let mut builder = TrayIconBuilder::with_id("main")
        .tooltip("Delta-Bridge")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "show" => show(app),
            "quit" => app.exit(0),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder.build(app)?;
    Ok(status)
}
