//! [`crate::ports::ContactReads`] and [`crate::ports::ContactWrites`].

use super::*;

#[async_trait]
impl ContactReads for SqlStore {
    async fn contact(&self, id: Uuid) -> Result<Option<Contact>> {
        let sql = format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE id = $1");
        let row: Option<ContactRow> = sqlx::query_as(&sql).bind(id).fetch_optional(&self.read).await?;
        row.map(Contact::try_from).transpose()
    }

    async fn account(&self, id: Uuid) -> Result<Option<Account>> {
        let row: Option<AccountRow> = sqlx::query_as("SELECT id, domain, name, created_at FROM accounts WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        Ok(row.map(Account::from))
    }

    async fn contacts(&self, f: &ContactFilter, after: Option<Uuid>, limit: i64) -> Result<Vec<Contact>> {
        let mut qb =
            QueryBuilder::<Db>::new(format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE merged_into IS NULL"));
        if let Some(email) = &f.email {
            // A merged contact's email finds the contact it was merged into.
            qb.push(" AND id IN (SELECT COALESCE(merged_into, id) FROM contacts WHERE email = ")
                .push_bind(email.as_str())
                .push(")");
        }
        if let Some(external_id) = &f.external_id {
            qb.push(" AND id IN (SELECT contact_id FROM external_ids WHERE external_id = ")
                .push_bind(external_id.as_str());
            if let Some(system) = &f.system {
                qb.push(" AND system = ").push_bind(system.as_str());
            }
            qb.push(")");
        }
        if let Some(stage) = f.stage {
            qb.push(" AND stage = ").push_bind(stage.as_str());
        }
        if let Some(direction) = f.direction {
            qb.push(" AND direction = ").push_bind(direction.as_str());
        }
        if let Some(channel) = &f.channel {
            qb.push(" AND channel = ").push_bind(channel.as_str());
        }
        if let Some(after) = after {
            qb.push(" AND id < ").push_bind(after);
        }
        qb.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
        let rows: Vec<ContactRow> = qb.build_query_as().fetch_all(&self.read).await?;
        contacts_of(rows)
    }

    async fn stage_history(&self, contact_id: Uuid) -> Result<Vec<StageChange>> {
        let rows: Vec<StageChangeRow> = sqlx::query_as(
            "SELECT contact_id, from_stage, to_stage, at, cause, detail, actor, value FROM stage_changes \
             WHERE contact_id = $1 ORDER BY at, id",
        )
        .bind(contact_id)
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(StageChange::try_from).collect()
    }

    async fn contact_changes(&self, contact_id: Uuid) -> Result<Vec<ContactChange>> {
        let rows: Vec<ContactChangeRow> = sqlx::query_as(
            "SELECT contact_id, at, cause, actor, changes FROM contact_changes WHERE contact_id = $1 ORDER BY at, id",
        )
        .bind(contact_id)
        .fetch_all(&self.read)
        .await?;
        Ok(rows.into_iter().map(ContactChange::from).collect())
    }

    async fn responses(&self, contact_id: Uuid) -> Result<Vec<Response>> {
        let sql = format!("SELECT {RESPONSE_COLUMNS} FROM responses WHERE contact_id = $1 ORDER BY at DESC, id DESC");
        let rows: Vec<ResponseRow> = sqlx::query_as(&sql).bind(contact_id).fetch_all(&self.read).await?;
        rows.into_iter().map(Response::try_from).collect()
    }

    async fn recent_events(&self, contact_id: Uuid, limit: i64) -> Result<Vec<StoredEvent>> {
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT id, contact_id, email, visitor_id, kind, at, url, props, received_at FROM events \
             WHERE contact_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(contact_id)
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        Ok(rows.into_iter().map(StoredEvent::from).collect())
    }

    async fn existing_contacts(&self, ids: &[Uuid]) -> Result<Vec<(Uuid, Uuid)>> {
        let mut conn = self.read.acquire().await?;
        fetch_in(&mut conn, "SELECT id, COALESCE(merged_into, id) FROM contacts WHERE id IN (", ids).await
    }

    async fn totals(&self) -> Result<Totals> {
        let sql = format!(
            "SELECT ({}), (SELECT COUNT(*) FROM accounts), (SELECT COUNT(*) FROM responses), \
             (SELECT COUNT(*) FROM events)",
            crate::sql::COUNT_LIVE_CONTACTS
        );
        let row = sqlx::query(&sql).fetch_one(&self.read).await?;
        Ok(Totals {
            contacts: row.try_get(0)?,
            accounts: row.try_get(1)?,
            responses: row.try_get(2)?,
            events: row.try_get(3)?,
        })
    }

    async fn live_contact_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar(crate::sql::COUNT_LIVE_CONTACTS).fetch_one(&self.read).await?)
    }

    async fn refresh_statistics(&self) -> Result<()> {
        if BACKEND == "postgres" {
            // On a connection that does not log it: it takes seconds, which sqlx
            // would warn of as a slow statement.
            use sqlx::{ConnectOptions, Connection};
            let options = self.write.connect_options().as_ref().clone().disable_statement_logging();
            let mut conn = options.connect().await?;
            sqlx::query("ANALYZE").execute(&mut conn).await?;
            conn.close().await?;
        }
        Ok(())
    }
}

#[async_trait]
impl ContactWrites for SqlTx {
    async fn contact_by_email(&mut self, email: &str) -> Result<Option<Contact>> {
        // A merged contact's email leads to the contact it was merged into.
        let sql = format!(
            "SELECT {} FROM contacts m JOIN contacts c ON c.id = COALESCE(m.merged_into, m.id) \
             WHERE m.email = $1{}",
            crate::rows::contact_columns_of_c(),
            LOCK
        );
        let row: Option<ContactRow> = sqlx::query_as(&sql).bind(email).fetch_optional(&mut *self.tx).await?;
        row.map(Contact::try_from).transpose()
    }

    async fn contact_by_id(&mut self, id: Uuid) -> Result<Option<Contact>> {
        let sql = format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE id = $1{}", LOCK);
        let row: Option<ContactRow> = sqlx::query_as(&sql).bind(id).fetch_optional(&mut *self.tx).await?;
        row.map(Contact::try_from).transpose()
    }

    async fn account_by_domain(&mut self, domain: &str) -> Result<Option<Account>> {
        let row: Option<AccountRow> =
            sqlx::query_as("SELECT id, domain, name, created_at FROM accounts WHERE domain = $1")
                .bind(domain)
                .fetch_optional(&mut *self.tx)
                .await?;
        Ok(row.map(Account::from))
    }

    async fn insert_account(&mut self, a: &Account) -> Result<()> {
        sqlx::query("INSERT INTO accounts (id, domain, name, created_at) VALUES ($1, $2, $3, $4)")
            .bind(a.id)
            .bind(a.domain.as_str())
            .bind(a.name.as_deref())
            .bind(a.created_at.0)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn insert_contact(&mut self, c: &Contact) -> Result<()> {
        self.changes.note(c.id, leadgate_core::changes::ChangeKind::Created);
        let nothing = crate::sql::Packed::default();
        insert_many(&mut self.tx, INSERT_CONTACT, std::slice::from_ref(c), |b, c| {
            push_contact_values(b, c, None, &nothing)
        })
        .await
    }

    async fn update_contact(&mut self, c: &Contact) -> Result<()> {
        sqlx::query(
            "UPDATE contacts SET email = $2, first_name = $3, last_name = $4, company = $5, title = $6, \
             phone = $7, country = $8, account_id = $9, direction = $10, channel = $11, stage = $12, \
             stage_at = $13, custom = $14, updated_at = $15, owner = $16, do_not_email = $17, \
             do_not_call = $18 WHERE id = $1",
        )
        .bind(c.id)
        .bind(c.email.as_deref())
        .bind(c.first_name.as_deref())
        .bind(c.last_name.as_deref())
        .bind(c.company.as_deref())
        .bind(c.title.as_deref())
        .bind(c.phone.as_deref())
        .bind(c.country.as_deref())
        .bind(c.account_id)
        .bind(c.direction.as_str())
        .bind(c.channel.as_deref())
        .bind(c.stage.as_str())
        .bind(c.stage_at.0)
        .bind(Json(&c.custom))
        .bind(c.updated_at.0)
        .bind(c.owner.as_deref())
        .bind(c.do_not_email)
        .bind(c.do_not_call)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn insert_response(&mut self, r: &Response) -> Result<()> {
        self.changes.response(r.contact_id);
        insert_responses(&mut self.tx, std::slice::from_ref(r), |_| true).await
    }

    async fn insert_stage_change(&mut self, c: &StageChange) -> Result<()> {
        self.changes.stage(c);
        insert_stage_changes(&mut self.tx, std::slice::from_ref(c), |_| true).await
    }

    async fn insert_contact_change(&mut self, c: &ContactChange) -> Result<i64> {
        self.changes.note(c.contact_id, leadgate_core::changes::ChangeKind::FieldsChanged);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO contact_changes (contact_id, at, cause, actor, changes) VALUES ($1, $2, $3, $4, $5) \
             RETURNING id",
        )
        .bind(c.contact_id)
        .bind(c.at.0)
        .bind(c.cause.as_str())
        .bind(c.actor.as_str())
        .bind(Json(&c.changes))
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(id)
    }

    async fn delete_contact_change(&mut self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM contact_changes WHERE id = $1").bind(id).execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn move_stage(&mut self, c: &StageChange) -> Result<bool> {
        let Some(from) = c.from else { return Ok(false) };
        let moved =
            sqlx::query("UPDATE contacts SET stage = $2, stage_at = $3, updated_at = $3 WHERE id = $1 AND stage = $4")
                .bind(c.contact_id)
                .bind(c.to.as_str())
                .bind(c.at.0)
                .bind(from.as_str())
                .execute(&mut *self.tx)
                .await?
                .rows_affected();
        if moved > 0 {
            self.changes.stage(c);
            insert_stage_changes(&mut self.tx, std::slice::from_ref(c), |_| true).await?;
        }
        Ok(moved > 0)
    }
}
