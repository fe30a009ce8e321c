//! A short-lived cache of what the public availability pages read from the
//! catalogue: the facility, the room, its combinations, the booking windows,
//! the town's name and each month's calendar. Catalogue changes show on every
//! app instance after at most [`TTL`]; held cells are never cached, so a new
//! booking shows at once. Booking itself never reads this cache: its checks
//! always see the database (C05: the month view at thousands of requests/s).
//!
//! The rendered availability page itself is kept for [`PAGE_TTL`]: a burst of
//! residents opening the same month costs one rendering per second. A booking
//! or cancellation made through this instance drops its room's pages at once;
//! other instances show it within `PAGE_TTL`.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hiroba_domain::calendar::CalendarDay;
use hiroba_store::catalogue::{self, Combination, FacilityCategory};
use hiroba_store::facilities::{self, Facility, Room};
use hiroba_store::{Db, Result, catalogue_domain, settings};

/// How long a catalogue change may take to reach the public pages.
pub const TTL: Duration = Duration::from_secs(5);
/// How long another instance's booking may take to show on an availability page.
pub const PAGE_TTL: Duration = Duration::from_secs(1);
/// Entries kept before the cache starts afresh (rooms × combinations × months).
const MAX_ENTRIES: usize = 4096;

struct Ttl<K, V> {
    entries: Mutex<HashMap<K, (Instant, Arc<V>)>>,
    ttl: Duration,
}

impl<K: Eq + Hash + Clone, V> Ttl<K, V> {
    fn new(ttl: Duration) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    fn get(&self, key: &K) -> Option<Arc<V>> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    fn retain(&self, keep: impl Fn(&K) -> bool) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|k, _| keep(k));
        }
    }

    fn put(&self, key: K, value: Arc<V>) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(key, (Instant::now(), value));
        }
    }
}

/// A room as the public pages show it.
pub struct RoomData {
    pub facility: Facility,
    pub room: Room,
    pub combos: Vec<Combination>,
    pub windows: Vec<FacilityCategory>,
    pub town_name: String,
}

/// A rendered availability page: (room, the page's query, today).
pub type PageKey = (i64, String, chrono::NaiveDate);

pub struct ViewCache {
    rooms: Ttl<i64, Option<RoomData>>,
    months: Ttl<(i64, i64, i32, u32), Vec<CalendarDay>>,
    pages: Ttl<PageKey, String>,
}

impl Default for ViewCache {
    fn default() -> Self {
        Self {
            rooms: Ttl::new(TTL),
            months: Ttl::new(TTL),
            pages: Ttl::new(PAGE_TTL),
        }
    }
}

impl ViewCache {
    pub fn page(&self, key: &PageKey) -> Option<Arc<String>> {
        self.pages.get(key)
    }

    pub fn put_page(&self, key: PageKey, html: String) {
        self.pages.put(key, Arc::new(html));
    }

    /// A booking or cancellation changed this room's availability.
    pub fn room_changed(&self, room_id: i64) {
        self.pages.retain(|(room, _, _)| *room != room_id);
    }

    /// The room with its facility; None if either does not exist.
    pub async fn room(&self, db: &Db, room_id: i64) -> Result<Arc<Option<RoomData>>> {
        if let Some(hit) = self.rooms.get(&room_id) {
            return Ok(hit);
        }
        let data = match facilities::room(db, room_id).await? {
            None => None,
            Some(room) => match facilities::get(db, room.facility_id).await? {
                None => None,
                Some(facility) => Some(RoomData {
                    combos: catalogue::combinations(db, room.id).await?,
                    windows: catalogue::facility_categories(db, facility.id).await?,
                    town_name: settings::load(db).await?.town_name,
                    facility,
                    room,
                }),
            },
        };
        let data = Arc::new(data);
        self.rooms.put(room_id, data.clone());
        Ok(data)
    }

    /// The month calendar of one combination of a room.
    pub async fn month(
        &self,
        db: &Db,
        room_id: i64,
        combination_id: i64,
        year: i32,
        month: u32,
    ) -> Result<Arc<Vec<CalendarDay>>> {
        let key = (room_id, combination_id, year, month);
        if let Some(hit) = self.months.get(&key) {
            return Ok(hit);
        }
        let days = Arc::new(
            catalogue_domain::month_calendar(db, room_id, Some(combination_id), year, month)
                .await?,
        );
        self.months.put(key, days.clone());
        Ok(days)
    }
}
